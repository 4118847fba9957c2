"""One point's readings over a time range, downsampled keeping peaks: the PostgreSQL twin of
:mod:`forewarn.store.series`, giving the same rows for the same data.

The rule is SQLite's: more than ``max_points`` rows in the range, and the span from its first
to its last reading is cut into ``max_points // 2`` buckets of equal time; each bucket gives
the row of its minimum and the row of its maximum (the earliest of equal values, which is
the row SQLite's bare-column MIN()/MAX() returns), and a bucket whose values are all NULL
gives its last row (again SQLite's choice).

How: PostgreSQL has no "row holding the minimum" aggregate, but arrays compare element by
element, so ``min(ARRAY[value, ts])`` is the minimum value with the earliest of its times and
``max(ARRAY[value, -ts])`` the maximum with the earliest of its times (ts in epoch ms is exact
as a float8): one pass over the range, grouped by bucket. Measured against per-bucket index
probes (SQLite's way: a thousand correlated subqueries, each re-planned over the partitions,
cost 150 ms on a few days already) and a second pass joining the rows back to each bucket's
min and max (docs/benchmarks.md, "PostgreSQL store").
"""

from __future__ import annotations

from typing import Any

import psycopg

from forewarn.model import Kind
from forewarn.store.postgres.partitions import month_range

__all__ = ["series"]

SeriesRow = tuple[int, float | None, str]

_TABLE = {kind: f"readings_{kind.value}" for kind in Kind}


def _picks_sql(table: str) -> str:
    """Per bucket: the ts of its minimum row, minus the ts of its maximum row, and its last ts."""
    return (
        "SELECT (min(ARRAY[value, ts::float8]) FILTER (WHERE value IS NOT NULL))[2], "
        "(max(ARRAY[value, (-ts)::float8]) FILTER (WHERE value IS NOT NULL))[2], max(ts) "
        f"FROM {table} WHERE point_id = %(point)s AND ts >= %(first)s AND ts <= %(last)s "
        "GROUP BY (ts - %(first)s) / %(width)s"
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
    chosen: set[int] = set()
    for low, minus_high, last_ts in picks:
        if low is None:  # every value of the bucket NULL: its last row, as SQLite answers
            chosen.add(int(last_ts))
        else:
            chosen.update((int(low), -int(minus_high)))
    return _rows_at(conn, table, point_id, sorted(chosen))


def _rows_at(conn: psycopg.Connection[Any], table: str, point_id: int, stamps: list[int]) -> list[SeriesRow]:
    """The rows at the chosen times, read back by primary key. One ``ts = ANY(all of them)``
    over the partitioned table would probe every month's partition for every time (a year:
    13 partitions x 2,000 probes) and plan a 2,000-element list; one branch per month, each
    bounded by that month and joining its times as a set, reaches one partition each."""
    months: dict[tuple[int, int], list[int]] = {}
    bounds: tuple[int, int] = (0, 0)
    for ts in stamps:
        if not bounds[0] <= ts < bounds[1]:
            bounds = month_range(ts)
        months.setdefault(bounds, []).append(ts)
    branches = []
    args: list[object] = []
    for (lo, hi), chosen in months.items():
        branches.append(f"SELECT r.ts, r.value, r.flag FROM unnest(%s::bigint[]) AS u(ts) JOIN {table} r "
                        "ON r.ts = u.ts AND r.point_id = %s AND r.ts >= %s AND r.ts < %s")
        args += [chosen, point_id, lo, hi]
    if not branches:
        return []
    rows: list[SeriesRow] = conn.execute(" UNION ALL ".join(branches) + " ORDER BY 1", args).fetchall()
    return rows
