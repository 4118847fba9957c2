"""``forewarn bench series``: a year of one point's minute data, downsampled for a chart.

A fresh data directory; one device with 23 points registered through the ordinary registry
path. The point under test gets a year of minute readings (525,600 rows: a daily rhythm, noise,
and a handful of one-minute spikes, one of them flagged T, plus a drop to zero flagged D); its
two neighbours in ``readings_minute`` get a year of minute data too (so that the point's rows
sit between other points' rows in the table's B-tree), and every point gets a year of hourly
data in ``readings_hour``. Rows are written with plain ``executemany`` in one transaction per
point, not through the ingest path (``bench ingest`` measures that).

Then :func:`forewarn.store.series.series` over the whole year is timed on a fresh connection:
the first run separately ("cold": SQLite's page cache empty, the OS cache warm), then the
median and 95th percentile of the warm runs. Also printed, for comparing machines and hours:
the time of one plain pass over the point's rows (``COUNT``/``SUM``), the floor of any query
that has to look at every row.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.sqlite import SqliteStore

__all__ = ["run_series_bench"]

MN = "BENCHSERIES0000000000001"
T = TypeVar("T")
TARGET = ("a21026", "Avg")  # SO2, mg/m3
MINUTE_NEIGHBOURS = (("a21002", "Avg"), ("a21003", "Avg"))  # NOx, NO
#: 2025-01-01T00:00+08:00
START_MS = 1_735_660_800_000
MINUTE_MS = 60_000
HOUR_MS = 3_600_000


def _points(catalogue: Catalogue) -> list[tuple[str, str]]:
    """The target between its two minute neighbours, then 20 more (hourly data only)."""
    taken = {TARGET, *MINUTE_NEIGHBOURS}
    more = [(code, "Avg") for code in catalogue.factors if (code, "Avg") not in taken][:20]
    return [MINUTE_NEIGHBOURS[0], TARGET, MINUTE_NEIGHBOURS[1], *more]


def _spikes(minutes: int) -> dict[int, tuple[float, str]]:
    """Minute index -> (value, flag) of the planted peaks: far above the daily rhythm, or zero."""
    at = [int(minutes * f) for f in (0.05, 0.21, 0.37, 0.58, 0.74, 0.93)]
    values = [(420.0, "N"), (95.5, "N"), (880.0, "T"), (260.0, "N"), (133.0, "N"), (310.0, "N")]
    spikes = dict(zip(at, values, strict=True))
    spikes[int(minutes * 0.66)] = (0.0, "D")  # the analyser faulted: the global minimum
    return spikes


Row = tuple[int, int, float, str]


def _minute_rows(point_id: int, minutes: int, seed: int, spikes: dict[int, tuple[float, str]]) -> list[Row]:
    """A daily rhythm (low at night, high in the working day), slow drift and noise, > 0."""
    rnd = random.Random(seed)
    day = 1440
    rows = []
    for i in range(minutes):
        phase = (i % day) / day
        base = 30.0 + 12.0 * math.sin(2 * math.pi * (phase - 0.3)) + 4.0 * math.sin(2 * math.pi * i / (day * 7))
        value = max(1.0, base + rnd.gauss(0.0, 2.0))
        rows.append((point_id, START_MS + i * MINUTE_MS, round(value, 3), "N"))
    for i, (value, flag) in spikes.items():
        rows[i] = (point_id, START_MS + i * MINUTE_MS, value, flag)
    return rows


def _write(store: SqliteStore, kind: Kind, rows: list[Row]) -> None:
    db = store.db
    db.execute("BEGIN IMMEDIATE")
    db.executemany(f"INSERT INTO readings_{kind.value} (point_id, ts, value, flag) VALUES (?, ?, ?, ?)", rows)
    db.execute("COMMIT")


def _setup(path: Path, days: int) -> tuple[int, dict[int, tuple[float, str]], int]:
    """Register, write; return the target's point id, its spikes (by ts) and rows written."""
    catalogue = Catalogue()
    store = SqliteStore(path, catalogue)
    try:
        device = DeviceRow(region_code="140213", region_name="平城区", parent_region_code="140200",
                           enterprise="基准测试企业", site="一号排口", site_type="factory", mn=MN,
                           password="123456", interval_s=60, device_kind="cems")
        points = _points(catalogue)
        store.apply_registry([device], [PointRow(MN, code, field) for code, field in points])
        ids = {
            (code, field): id_
            for id_, code, field in store.db.execute("SELECT id, code, field FROM points ORDER BY id")
        }
        minutes = days * 1440
        spikes = _spikes(minutes)
        written = 0
        for seed, key in enumerate([TARGET, *MINUTE_NEIGHBOURS]):
            rows = _minute_rows(ids[key], minutes, seed, spikes if key == TARGET else {})
            _write(store, Kind.MINUTE, rows)
            written += len(rows)
        rnd = random.Random(99)
        hours = days * 24
        hourly = [
            (ids[key], START_MS + h * HOUR_MS, round(20.0 + 10.0 * rnd.random(), 3), "N")
            for key in points for h in range(hours)
        ]
        _write(store, Kind.HOUR, hourly)
        written += len(hourly)
        by_ts = {START_MS + i * MINUTE_MS: spike for i, spike in spikes.items()}
        return ids[TARGET], by_ts, written
    finally:
        store.close()


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000.0, out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def _over_http(data_dir: Path, point_id: int, from_ms: int, to_ms: int, max_points: int, runs: int
                     ) -> tuple[list[float], list[float], int]:
    """The same query through ``GET /api/v1/points/{id}/series`` of a running platform, and how
    late the event loop (which answers every device) ran meanwhile: (request ms, loop lag ms, points)."""
    import httpx

    from forewarn.access.users import create_user, issue_api_token
    from forewarn.app import Platform
    from forewarn.config import load_settings

    settings = load_settings(None, data_dir=data_dir, hj212_host="127.0.0.1", hj212_port=0, http_host="127.0.0.1",
                             http_port=0, rules_enabled=0)
    with SqliteStore(settings.db_path, Catalogue()) as store:
        create_user(store.db, "bench", "bench-password-1", "city_admin", actor="bench", origin="bench")
        token = issue_api_token(store.db, "bench", actor="bench", origin="bench").token
    platform = Platform(settings, http=True)
    await platform.start()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:  # wakes every 5 ms; how late each wake-up is, is what a device would wait
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(max(0.0, (time.perf_counter() - t0) * 1000.0 - 5.0))

    times: list[float] = []
    points = 0
    try:
        url = f"http://127.0.0.1:{platform.http_port}/api/v1/points/{point_id}/series"
        params = {"from": str(from_ms), "to": str(to_ms), "kind": "minute", "max_points": str(max_points)}
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            await client.get(url, params=params)  # warm-up
            tick = asyncio.create_task(ticker())
            for _ in range(runs):
                t0 = time.perf_counter()
                answer = await client.get(url, params=params)
                times.append((time.perf_counter() - t0) * 1000.0)
                answer.raise_for_status()
                points = len(answer.json()["points"])
            stop.set()
            await tick
    finally:
        await platform.stop()
    return times, lags, points


def run_series_bench(*, days: int = 365, max_points: int = 2000, runs: int = 20, http: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-series-") as tmp:
        path = Path(tmp) / "forewarn.db"  # the platform's file name, so --http can serve it
        t0 = time.perf_counter()
        point_id, spikes, written = _setup(path, days)
        print(f"setup: {written:,} rows written in {time.perf_counter() - t0:.1f} s "
              f"({days} days of minute data for point {point_id} and 2 neighbours, hourly data for 23 points)")
        from_ms, to_ms = START_MS, START_MS + days * 86_400_000 - 1
        store = SqliteStore(path, Catalogue(), create=False)
        try:
            def query() -> list[tuple[int, float | None, str]]:
                return store.series(point_id, Kind.MINUTE, from_ms, to_ms, max_points)

            cold_ms, out = _timed(query)
            warm = [_timed(query)[0] for _ in range(runs)]
            scan = [
                _timed(lambda: store.db.execute(
                    "SELECT COUNT(*), SUM(value) FROM readings_minute WHERE point_id = ? AND ts BETWEEN ? AND ?",
                    (point_id, from_ms, to_ms),
                ).fetchone())[0]
                for _ in range(5)
            ]
            in_range = store.db.execute(
                "SELECT COUNT(*) FROM readings_minute WHERE point_id = ? AND ts BETWEEN ? AND ?",
                (point_id, from_ms, to_ms),
            ).fetchone()[0]
        finally:
            store.close()
        if http:
            times, lags, http_points = asyncio.run(_over_http(Path(tmp), point_id, from_ms, to_ms, max_points, runs))
            print(f"over HTTP (GET /api/v1/points/{point_id}/series, {http_points:,} points as JSON): {runs} runs, "
                  f"median {statistics.median(times):.1f} ms, p95 {_p95(times):.1f} ms")
            print(f"event loop meanwhile (a 5 ms ticker): lag median {statistics.median(lags):.2f} ms, "
                  f"p95 {_p95(lags):.2f} ms, max {max(lags):.1f} ms over {len(lags)} ticks")
    rows = out
    got = {ts: (value, flag) for ts, value, flag in rows}
    missing = [ts for ts, spike in spikes.items() if got.get(ts) != spike]
    ordered = all(a[0] < b[0] for a, b in zip(rows, rows[1:], strict=False))
    median, p95 = statistics.median(warm), _p95(warm)
    print(f"series over {days} days: {in_range:,} rows in range -> {len(rows):,} points (max_points {max_points}), "
          f"timestamps ascending: {'yes' if ordered else 'NO'}")
    print(f"planted spikes in the output: {len(spikes) - len(missing)}/{len(spikes)} "
          f"(with their flags: {', '.join(sorted({f for _, f in spikes.values()}))})"
          + (f"; MISSING at ts {missing}" if missing else ""))
    print(f"cold run (fresh connection, OS cache warm): {cold_ms:.1f} ms")
    print(f"warm runs: {runs}, min {min(warm):.1f} ms, median {median:.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(warm):.1f} ms")
    print(f"one plain pass over the point's rows (COUNT, SUM), median of 5: {statistics.median(scan):.1f} ms")
    print(f"series_ms_median={median:.1f} series_ms_p95={p95:.1f} points={len(rows)}")
    return 0 if not missing and ordered and len(rows) <= max_points else 1
