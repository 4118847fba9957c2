"""``forewarn bench migrate``: rows/s of ``forewarn store migrate`` on a 10-million-reading installation.

The installation: a fresh data directory, 100 factories with 10 points each registered through
the store's registry import (``apply_registry``), and ``--readings`` minute readings (default
10 million) spread evenly over the 1,000 points, one every 5 minutes back from 2026-11-22, so
that they span several months (several partitions in PostgreSQL). They are written straight
into ``readings_minute`` with ``executemany`` (the platform's own forwarding trigger in place;
``bench ingest`` measures the ingest path), and the time that took is printed. ``--keep DIR``
builds it into DIR once and reuses it.

The target is a fresh schema of the PostgreSQL at ``--to`` (dropped afterwards). Printed: the
time of each step of the transfer (migrations, counting the source, the copy, verifying), the
copy's rows/s, and for comparison the floor of the copy's source side: reading the same rows
from SQLite in the same chunks without writing them anywhere.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from forewarn.catalogue import Catalogue
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.sqlite import SqliteStore
from forewarn.store.transfer import Observer, TransferReport, transfer
from forewarn.store.transfer.source import SqliteSource

__all__ = ["run_migrate_bench"]

DEVICES = 100
POINTS_PER_DEVICE = 10
END_MS = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00
STEP_MS = 300_000
BUILD_BATCH = 500_000


class _Timings(Observer):
    """When each step of the transfer began."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def phase(self, text: str) -> None:
        self.marks.append((text, time.perf_counter()))

    def start(self, totals: dict[str, int], copied: dict[str, int]) -> None:
        self.marks.append(("copying", time.perf_counter()))


def build(path: Path, readings: int) -> float:
    """Register the fleet and write ``readings`` minute readings; seconds it took."""
    started = time.perf_counter()
    store = SqliteStore(path, Catalogue())
    try:
        codes = [code for code in Catalogue().factors][:POINTS_PER_DEVICE]
        devices = [DeviceRow(region_code="140213", region_name="平城区", parent_region_code="140200",
                             enterprise=f"迁移基准企业{i}", site="厂区", site_type="factory",
                             mn=f"BENCHMIGRATE{i:012d}", password="123456") for i in range(DEVICES)]
        points = [PointRow(d.mn, code, "Avg") for d in devices for code in codes]
        store.apply_registry(devices, points)
        ids = [row[0] for row in store.db.execute("SELECT id FROM points ORDER BY id")]
        per_point = -(-readings // len(ids))
        written = 0

        def rows() -> object:
            nonlocal written
            for point in ids:
                for i in range(per_point):
                    if written >= readings:
                        return
                    written += 1
                    yield point, END_MS - i * STEP_MS, 20.0 + (point * 31 + i * 7) % 997 / 10, "N"

        source = iter(rows())  # type: ignore[call-overload]
        while written < readings:
            batch = [row for _, row in zip(range(BUILD_BATCH), source, strict=False)]
            if not batch:
                break
            store.db.execute("BEGIN")
            store.db.executemany("INSERT INTO readings_minute (point_id, ts, value, flag) VALUES (?, ?, ?, ?)", batch)
            store.db.execute("COMMIT")
    finally:
        store.close()
    return time.perf_counter() - started


def _read_floor(path: Path, chunk_rows: int) -> tuple[int, float]:
    """Rows and seconds of reading readings_minute in the copy's chunks, writing nothing."""
    source = SqliteSource(path)
    try:
        table = next(t for t in source.tables if t.name == "readings_minute")
        started = time.perf_counter()
        rows = sum(len(chunk) for chunk, _ in source.chunks(table, None, chunk_rows))
        return rows, time.perf_counter() - started
    finally:
        source.close()


Marks = list[tuple[str, float]]


def _transfer_once(path: Path, to: str, chunk_rows: int, *, overlap: bool) -> tuple[TransferReport, Marks]:
    """One transfer into a fresh schema (dropped after); the report and when each step began."""
    schema = f"bench_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(to, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            joiner = "&" if "?" in to else "?"
            timings = _Timings()
            report = transfer(path, f"{to}{joiner}options=-csearch_path%3D{schema}", chunk_rows=chunk_rows,
                              observer=timings, overlap=overlap)
            timings.marks.append(("end", time.perf_counter()))
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return report, timings.marks


def _show(report: TransferReport, marks: Marks, chunk_rows: int, how: str) -> None:
    whole = marks[-1][1] - marks[0][1]
    print(f"{how}: {report.rows_copied:,} rows in {whole:.1f} s, by step:")
    for (name, at), (_, after) in zip(marks, marks[1:], strict=False):
        print(f"  {name:<36} {after - at:7.1f} s")
    print(f"  copy: {report.rows_copied / report.copy_seconds:,.0f} rows/s (chunks of {chunk_rows:,} rows); "
          f"whole transfer: {report.rows_copied / whole:,.0f} rows/s")


def run_migrate_bench(*, readings: int, to: str, chunk_rows: int, keep: Path | None,
                      compare_overlap: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-migrate-") as scratch:
        folder = keep or Path(scratch)
        path = folder / "forewarn.db"
        if path.exists():
            print(f"reusing the installation in {path}")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            seconds = build(path, readings)
            print(f"built {readings:,} minute readings of {DEVICES * POINTS_PER_DEVICE:,} points in {seconds:.1f} s "
                  f"({readings / seconds:,.0f} rows/s by executemany); {path.stat().st_size / 2**20:,.0f} MiB")
        report, marks = _transfer_once(path, to, chunk_rows, overlap=True)
        _show(report, marks, chunk_rows, "transfer")
        if compare_overlap:
            report, marks = _transfer_once(path, to, chunk_rows, overlap=False)
            _show(report, marks, chunk_rows, "transfer without reading ahead")
        rows, seconds = _read_floor(path, chunk_rows)
        print(f"floor of the source side: reading the {rows:,} readings alone: {seconds:.1f} s "
              f"({rows / seconds:,.0f} rows/s)")
    return 0
