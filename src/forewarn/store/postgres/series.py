"""One point's readings over a time range, downsampled keeping peaks: the PostgreSQL twin of
:mod:`forewarn.store.series`, giving the same rows for the same data.

The rule is SQLite's: more than ``max_points`` rows in the range, and the span from its first
to its last reading is cut into ``max_points // 2`` buckets of equal time; each bucket gives
the row of its minimum and the row of its maximum (the earliest of equal values, which is
the row SQLite's bare-column MIN()/MAX() returns), and a bucket whose values are all NULL
gives its last row (again SQLite's choice).

How: PostgreSQL has no "row holding the minimum" aggregate, and building an array per row to
compare (value, ts) pairs cost twice as much as reading the rows (measured, docs/benchmarks.md).
So one pass of plain float aggregates per bucket (min, max, count, last ts), then per bucket
two index range scans along the primary key that stop at the first row with that value.
"""

from __future__ import annotations

from typing import Any

import psycopg

from forewarn.model import Kind

__all__ = ["series"]

SeriesRow = tuple[int, float | None, str]

_TABLE = {kind: f"readings_{kind.value}" for kind in Kind}


def _picks_sql(table: str) -> str:
    first_with = (
        f"(SELECT min(ts) FROM {table} WHERE point_id = %(point)s AND ts >= %(first)s + a.b * %(width)s "
        "AND ts < %(first)s + (a.b + 1) * %(width)s AND ts <= %(last)s AND value = a.{col})"
    )
    return (
        "WITH a AS (SELECT (ts - %(first)s) / %(width)s AS b, min(value) AS lo, max(value) AS hi, "
        f"max(ts) AS last_ts, count(value) AS n FROM {table} "
        "WHERE point_id = %(point)s AND ts >= %(first)s AND ts <= %(last)s GROUP BY 1) "
        f"SELECT CASE WHEN a.n = 0 THEN a.last_ts ELSE {first_with.format(col='lo')} END, "
        f"CASE WHEN a.n = 0 THEN NULL ELSE {first_with.format(col='hi')} END FROM a"
    )


def series(
    conn: psycopg.Connection[Any], point_id: int, kind: Kind, from_ms: int, to_ms: int, max_points: int
) -> list[SeriesRow]:
    """The readings of one point with ``from_ms <= ts <= to_ms``, at most ``max_points`` of them, by ts."""
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2 (a bucket's min and max), not {max_points}")
    table = _TABLE[Kind(kind)]
    if from_ms > to_ms:
        return []
    raw: list[SeriesRow] = conn.execute(
        f"SELECT ts, value, flag FROM {table} WHERE point_id = %s AND ts >= %s AND ts <= %s ORDER BY ts LIMIT %s",
        (point_id, from_ms, to_ms, max_points + 1),
    ).fetchall()
    if len(raw) <= max_points:
        return raw
    first = raw[0][0]
    row = conn.execute(
        f"SELECT max(ts) FROM {table} WHERE point_id = %s AND ts >= %s AND ts <= %s", (point_id, first, to_ms)
    ).fetchone()
    assert row is not None
    last = int(row[0])
    buckets = max_points // 2
    width = (last - first) // buckets + 1  # so that (last - first) // width < buckets
    picks = conn.execute(
        _picks_sql(table), {"point": point_id, "first": first, "last": last, "width": width}
    ).fetchall()
    chosen = sorted({int(ts) for pair in picks for ts in pair if ts is not None})
    rows: list[SeriesRow] = conn.execute(
        f"SELECT ts, value, flag FROM {table} WHERE point_id = %s AND ts = ANY(%s) ORDER BY ts",
        (point_id, chosen),
    ).fetchall()
    return rows
