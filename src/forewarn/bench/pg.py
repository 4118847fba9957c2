"""``forewarn bench pg``: the PostgreSQL store's write speed, its index choice and the series query.

Everything runs in fresh schemas of the PostgreSQL named (dropped afterwards), on the same rows:

1. **Writes.** ``PgStore.write`` with 10,000-row batches (200 points of 20 devices, 50 minutes
   each, through the whole ingest path: points resolved, partitions checked, readings staged by
   COPY and inserted first-write-wins, counters), against the floor: a plain binary COPY of the
   same rows by psycopg straight into the month's partition. Then the alternatives the store
   did not take for the readings insert, each in its own schema: multi-row
   ``INSERT ... VALUES (..), (..) ON CONFLICT DO NOTHING`` (1,000 rows a statement),
   ``executemany`` of one-row inserts in pipeline mode, and ``INSERT ... SELECT FROM unnest(arrays)``.
2. **Index.** The same writes with a BRIN index on ts added to the primary key's B-tree, and the
   series query answered through BRIN alone (a table of the same rows without the key) against
   the B-tree of the key.
3. **Series.** A year of minute data of one point between two neighbours written minute by minute
   (525,600 rows each, interleaved as a live platform writes them, so a point's rows do not sit
   together in the heap), downsampled to ``--max-points`` by ``PgStore.series``: cold, then the
   median and 95th percentile of warm runs, with a plain count over the point's year as the floor.
"""

from __future__ import annotations

import math
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import DeviceRow, IngestBatch, PointRow, ReadingBatch, ReadingRow
from forewarn.store.postgres import series as pg_series
from forewarn.store.postgres.store import PgStore

__all__ = ["run_pg_bench"]

#: 2025-01-01T00:00Z; the write bench stays inside January
START_MS = 1_735_689_600_000
MINUTE_MS = 60_000
CODES = ("a21026", "a21002", "a21003", "a21004", "a21005", "a19001", "a01011", "a01012", "a01013", "a01014")
Row = tuple[int, int, float, str]


@contextmanager
def _schema(base: str) -> Iterator[str]:
    """A DSN whose search_path is a new empty schema, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {name}")
        try:
            joiner = "&" if "?" in base else "?"
            yield f"{base}{joiner}options=-csearch_path%3D{name}"
        finally:
            admin.execute(f"DROP SCHEMA {name} CASCADE")


def _fleet(devices: int = 20) -> tuple[list[DeviceRow], list[PointRow]]:
    rows = [DeviceRow("450102", "兴宁区", "基准企业", f"排口{i}", "factory", f"BENCHPG{i:017d}")
            for i in range(devices)]
    points = [PointRow(d.mn, code, "Avg") for d in rows for code in CODES]
    return rows, points


def _batches(store: PgStore, batches: int, minutes: int = 50) -> list[IngestBatch]:
    """``batches`` of 20 devices x 10 points x ``minutes`` minutes (10,000 rows with the defaults)."""
    infos = store.device_infos()
    rnd = random.Random(5)
    out = []
    for b in range(batches):
        batch = IngestBatch()
        for _, info in sorted(infos.items()):
            rows: list[ReadingRow] = [
                (code, "Avg", START_MS + (b * minutes + m) * MINUTE_MS, round(rnd.uniform(0, 100), 3), "N")
                for m in range(minutes) for code in CODES
            ]
            batch.readings.append(ReadingBatch(info.id, Kind.MINUTE, rows))
        out.append(batch)
    return out


def _point_rows(store: PgStore, batch: IngestBatch) -> list[Row]:
    """The batch's readings as (point id, ts, value, flag), for the inserts that bypass the store."""
    ids = {(int(d), c): int(p) for p, d, c in store._conns.read(  # noqa: SLF001 - the bench's own look inside
        lambda conn: conn.execute("SELECT id, device_id, code FROM points").fetchall())}
    return [(ids[(item.device_id, code)], ts, value, flag)
            for item in batch.readings for code, _, ts, value, flag in item.rows if value is not None]


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>10,.0f} rows/s"


def _copy_floor(conn: psycopg.Connection[Any], partition: str, rows: list[Row]) -> None:
    copy_sql = f"COPY {partition} (point_id, ts, value, flag) FROM STDIN (FORMAT BINARY)"
    with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types(["int8", "int8", "float8", "text"])
        for row in rows:
            copy.write_row(row)


def _multirow(conn: psycopg.Connection[Any], rows: list[Row]) -> None:
    per = 1000
    with conn.transaction(), conn.cursor() as cur:
        for i in range(0, len(rows), per):
            chunk = rows[i:i + per]
            cur.execute("INSERT INTO readings_minute (point_id, ts, value, flag) VALUES "
                        + ",".join(["(%s, %s, %s, %s)"] * len(chunk)) + " ON CONFLICT DO NOTHING",
                        [v for row in chunk for v in row])


def _executemany(conn: psycopg.Connection[Any], rows: list[Row]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO readings_minute (point_id, ts, value, flag) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING", rows)


def _unnest(conn: psycopg.Connection[Any], rows: list[Row]) -> None:
    columns = [list(c) for c in zip(*rows, strict=True)]
    with conn.transaction():
        conn.execute("INSERT INTO readings_minute (point_id, ts, value, flag) SELECT * FROM "
                     "unnest(%s::int8[], %s::int8[], %s::float8[], %s::text[]) ON CONFLICT DO NOTHING", columns)


#: index layouts measured: the primary key's B-tree alone (the schema's), with a BRIN on ts
#: added, and the key's B-tree covering value and flag (index-only scans for the series)
LAYOUTS: dict[str, list[str]] = {
    "key": [],
    "key+brin": ["CREATE INDEX readings_minute_brin ON readings_minute USING brin (ts)"],
    "covering": ["ALTER TABLE readings_minute DROP CONSTRAINT readings_minute_pkey",
                 "ALTER TABLE readings_minute ADD PRIMARY KEY (point_id, ts) INCLUDE (value, flag)"],
}


def _make_january(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT forewarn_readings_partition('minute', %s)", (START_MS,))


def _write_bench(base: str, batches: int, layout: str, every_way: bool = True) -> dict[str, float]:
    """rows/s of each way of writing the same batches, each into a fresh schema."""
    results: dict[str, float] = {}
    catalogue = Catalogue()
    ways: list[tuple[str, Callable[[psycopg.Connection[Any], list[Row]], None] | None]] = [
        ("PgStore.write (COPY to staging, INSERT ... SELECT ON CONFLICT DO NOTHING)", None),
        ("floor: binary COPY into the partition", None),
        ("multi-row INSERT ... ON CONFLICT DO NOTHING (1,000 rows a statement)", _multirow),
        ("executemany of one-row INSERTs (pipeline mode)", _executemany),
        ("INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING", _unnest),
    ]
    for name, insert in ways if every_way else ways[:2]:
        with _schema(base) as dsn:
            store = PgStore(dsn, catalogue)
            try:
                devices, points = _fleet()
                store.apply_registry(devices, points)
                store.run_in_transaction(lambda c: [c.execute(statement) for statement in LAYOUTS[layout]])
                work = _batches(store, batches)
                store.run_in_transaction(_make_january)
                store.write(IngestBatch(readings=[ReadingBatch(work[0].readings[0].device_id, Kind.MINUTE,
                                                               [("a21026", "Avg", START_MS - MINUTE_MS, 1.0, "N")])]))
                total = sum(b.row_count() for b in work)
                conn = store._conns.writer()  # noqa: SLF001
                plain = [_point_rows(store, b) for b in work] if name != ways[0][0] else []
                started = time.perf_counter()
                for i, batch in enumerate(work):
                    if name == ways[0][0]:
                        store.write(batch)
                    elif insert is None:
                        _copy_floor(conn, "readings_minute_2025_01", plain[i])
                    else:
                        insert(conn, plain[i])
                elapsed = time.perf_counter() - started
                row = conn.execute("SELECT count(*) FROM readings_minute").fetchone()
                assert row is not None and int(row[0]) == total + 1, f"{name}: {row} rows, not {total + 1}"
                results[name] = total / elapsed
                print(f"  {name:<76} {_rate(total, elapsed)}", flush=True)
            finally:
                store.close()
    return results


def _year(points: int, days: int) -> Iterator[Row]:
    """Minute by minute, every point's reading of that minute: a daily rhythm, noise, peaks."""
    rnd = random.Random(3)
    minutes = days * 1440
    spikes = {int(minutes * f): v for f, v in ((0.05, 420.0), (0.37, 880.0), (0.74, 133.0))}
    for m in range(minutes):
        for p in range(1, points + 1):
            value = spikes.get(m, 0.0) if p == 2 and m in spikes else \
                round(30 + 10 * math.sin(m * 2 * math.pi / 1440) + rnd.gauss(0, 2), 3)
            yield (p, START_MS + m * MINUTE_MS, value, "N")


def _load_year(conn: psycopg.Connection[Any], table: str, days: int) -> int:
    n = 0
    copy_sql = f"COPY {table} (point_id, ts, value, flag) FROM STDIN (FORMAT BINARY)"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types(["int8", "int8", "float8", "text"])
        for row in _year(3, days):
            copy.write_row(row)
            n += 1
    conn.execute(f"VACUUM ANALYZE {table}")
    return n


def _timed(runs: int, query: Callable[[], object]) -> tuple[float, float, float]:
    """(cold ms, warm median ms, warm p95 ms)."""
    started = time.perf_counter()
    query()
    cold = (time.perf_counter() - started) * 1000
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        query()
        warm.append((time.perf_counter() - started) * 1000)
    warm.sort()
    return cold, statistics.median(warm), warm[min(len(warm) - 1, int(len(warm) * 0.95))]


def _series_bench(base: str, days: int, max_points: int, runs: int) -> None:
    to_ms = START_MS + days * 1440 * MINUTE_MS - 1
    with _schema(base) as dsn:
        store = PgStore(dsn, Catalogue())
        try:
            conn = store._conns.writer()  # noqa: SLF001
            for month in range(days // 28 + 2):
                conn.execute("SELECT forewarn_readings_partition('minute', %s)", (START_MS + month * 28 * 86_400_000,))
            started = time.perf_counter()
            n = _load_year(conn, "readings_minute", days)
            print(f"  loaded {n:,} rows (3 points interleaved) in {time.perf_counter() - started:.1f} s", flush=True)
            floor = _timed(runs, lambda: conn.execute(
                "SELECT count(*), sum(value) FROM readings_minute WHERE point_id = 2 AND ts BETWEEN %s AND %s",
                (START_MS, to_ms)).fetchone())
            out = store.series(2, Kind.MINUTE, START_MS, to_ms, max_points)
            assert len(out) <= max_points and max(v for _, v, _ in out if v is not None) == 880.0
            btree = _timed(runs, lambda: store.series(2, Kind.MINUTE, START_MS, to_ms, max_points))
            print(f"  series, B-tree of the key: {len(out)} rows; cold {btree[0]:.0f} ms, warm median "
                  f"{btree[1]:.0f} ms, p95 {btree[2]:.0f} ms (floor, one pass over the point's rows: median "
                  f"{floor[1]:.0f} ms)", flush=True)
            # BRIN alone: the same rows in a table keyed by nothing but a BRIN index on ts
            conn.execute("CREATE TABLE brin_minute (point_id BIGINT NOT NULL, ts BIGINT NOT NULL, "
                         "value DOUBLE PRECISION, flag TEXT NOT NULL)")
            _load_year(conn, "brin_minute", days)
            conn.execute("CREATE INDEX brin_minute_ts ON brin_minute USING brin (ts)")
            conn.execute("ANALYZE brin_minute")
            pg_series._TABLE[Kind.DAY] = "brin_minute"  # noqa: SLF001 - borrow a kind's slot for the bench
            try:
                same = store.series(2, Kind.DAY, START_MS, to_ms, max_points)
                assert same == out, "BRIN table answered differently"
                brin = _timed(2, lambda: store.series(2, Kind.DAY, START_MS, to_ms, max_points))
            finally:
                pg_series._TABLE[Kind.DAY] = "readings_day"  # noqa: SLF001
            print(f"  series, BRIN on ts alone: cold {brin[0]:.0f} ms, warm median {brin[1]:.0f} ms, "
                  f"p95 {brin[2]:.0f} ms", flush=True)
            conn.execute("CREATE TABLE cover_minute (point_id BIGINT NOT NULL, ts BIGINT NOT NULL, value "
                         "DOUBLE PRECISION, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts) INCLUDE (value, flag))")
            _load_year(conn, "cover_minute", days)
            pg_series._TABLE[Kind.DAY] = "cover_minute"  # noqa: SLF001
            try:
                assert store.series(2, Kind.DAY, START_MS, to_ms, max_points) == out
                cover = _timed(runs, lambda: store.series(2, Kind.DAY, START_MS, to_ms, max_points))
                cover_floor = _timed(runs, lambda: conn.execute(
                    "SELECT count(*), sum(value) FROM cover_minute WHERE point_id = 2 AND ts BETWEEN %s AND %s",
                    (START_MS, to_ms)).fetchone())
            finally:
                pg_series._TABLE[Kind.DAY] = "readings_day"  # noqa: SLF001
            print(f"  series, covering B-tree (index-only): cold {cover[0]:.0f} ms, warm median {cover[1]:.0f} ms, "
                  f"p95 {cover[2]:.0f} ms (floor: median {cover_floor[1]:.0f} ms)", flush=True)
            sizes = conn.execute(
                "SELECT pg_size_pretty(sum(pg_relation_size(i.indexrelid))) FROM pg_index i "
                "JOIN pg_inherits h ON h.inhrelid = i.indrelid WHERE h.inhparent = 'readings_minute'::regclass"
            ).fetchone()
            brin_size = conn.execute("SELECT pg_size_pretty(pg_relation_size('brin_minute_ts'))").fetchone()
            print(f"  index sizes: primary key B-tree {sizes[0] if sizes else '?'}, BRIN "
                  f"{brin_size[0] if brin_size else '?'}", flush=True)
        finally:
            store.close()


def run_pg_bench(dsn: str, *, batches: int, days: int, max_points: int, runs: int, skip_writes: bool = False) -> int:
    """Print the figures; 0 when done."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    print(f"PostgreSQL {version[0] if version else '?'} at {dsn.split('@')[-1]}", flush=True)
    if not skip_writes:
        print(f"writes: {batches} batches of 10,000 minute readings (200 points, 20 devices)", flush=True)
        plain = _write_bench(dsn, batches, "key")
        first = next(iter(plain))
        for layout, what in (("key+brin", "a BRIN index on ts added to the primary key"),
                             ("covering", "the primary key's B-tree covering value and flag")):
            print(f"writes with {what}:", flush=True)
            other = _write_bench(dsn, batches, layout, every_way=False)
            print(f"  PgStore.write, {layout} / key alone: {other[first] / plain[first]:.2f}", flush=True)
    print(f"series: {days} days of minute data of one point, at most {max_points} points", flush=True)
    _series_bench(dsn, days, max_points, runs)
    return 0
