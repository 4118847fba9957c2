"""forewarn's own minute, hour, day and month values in SQLite (table ``aggregates``, migration
0012), the queue of time ranges whose periods must be computed again (``aggregate_dirty``),
and the reads that compare them with what devices reported themselves.

Functions of a sqlite3 connection, so that the aggregator (``stats/aggregate.py``, a writer
job), the audit marks (which queue their ranges in the same transaction as the mark) and the
readers (figures, reports, the API on reader threads) share one definition of the SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from forewarn.access.scope import Scope, scoped
from forewarn.model import Period

__all__ = [
    "AggregateRow", "Mismatch", "PointFacts", "aggregates", "dirty_backlog", "mark_dirty",
    "mismatches", "point_facts", "point_ids", "points_of_site", "queue_hours", "take_dirty", "stage",
    "behind", "compute_minutes", "compute_parents",
]

_COLUMNS = ("point_id, period, start_ms, avg, min, max, cou, n_received, n_valid, n_over, over_ms, parts, "
            "parts_valid, valid, flag, upper_limit, computed_ms")


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One period of one point, as stored (see migration 0012 for each column's meaning)."""

    point_id: int
    period: Period
    start_ms: int
    avg: float | None
    min: float | None
    max: float | None
    cou: float | None
    n_received: int
    n_valid: int
    n_over: int
    over_ms: int
    parts: int
    parts_valid: int
    valid: bool
    flag: str
    upper_limit: float | None
    computed_ms: int


def _row(r: Sequence[object]) -> AggregateRow:
    return AggregateRow(
        point_id=int(r[0]), period=Period(str(r[1])), start_ms=int(r[2]),  # type: ignore[call-overload]
        avg=r[3], min=r[4], max=r[5], cou=r[6],  # type: ignore[arg-type]
        n_received=int(r[7]), n_valid=int(r[8]), n_over=int(r[9]), over_ms=int(r[10]),  # type: ignore[call-overload]
        parts=int(r[11]), parts_valid=int(r[12]), valid=bool(r[13]), flag=str(r[14]),  # type: ignore[call-overload]
        upper_limit=r[15], computed_ms=int(r[16]),  # type: ignore[arg-type,call-overload]
    )


# ------------------------------------------------------------------ the queue of work

def mark_dirty(db: sqlite3.Connection, ranges: Iterable[tuple[int, int, int]]) -> None:
    """Queue every period that the half-open ranges ``(point_id, start_ms, end_ms)`` touch for
    computing again: the minute, hour, day and month holding each instant of the range, no
    other. Writes only, inside the caller's transaction (an audit mark queues its range in the
    transaction that stores the mark, so the two cannot part); the aggregator does the work
    later, in small jobs between the writer's transactions."""
    rows = [(int(p), int(s), int(e)) for p, s, e in ranges if e > s]
    if rows:
        db.executemany("INSERT INTO aggregate_dirty (point_id, start_ms, end_ms) VALUES (?, ?, ?)", rows)


def take_dirty(db: sqlite3.Connection, limit: int, *, level: str = "minute", now_ms: int | None = None
               ) -> dict[int, list[tuple[int, int]]]:
    """Remove up to ``limit`` queued ranges of ``level`` (oldest first; for 'hour', only those
    due by ``now_ms``) and return them merged per point (sorted, overlapping and adjacent ones
    joined). Call inside the transaction that does the work and puts back what it leaves, so
    a failure loses nothing."""
    rows = db.execute(
        "SELECT id, point_id, start_ms, end_ms FROM aggregate_dirty WHERE level = ? AND due_ms <= ? "
        "ORDER BY id LIMIT ?", (level, now_ms if now_ms is not None else 2**62, limit),
    ).fetchall()
    if not rows:
        return {}
    db.executemany("DELETE FROM aggregate_dirty WHERE id = ?", [(r[0],) for r in rows])
    per_point: dict[int, list[tuple[int, int]]] = {}
    for _, point_id, start, end in rows:
        per_point.setdefault(point_id, []).append((start, end))
    return {p: _merge(r) for p, r in per_point.items()}


def queue_hours(db: sqlite3.Connection, hours: Iterable[tuple[int, int, int, int]]) -> None:
    """Queue hours ``(point_id, start_ms, end_ms, due_ms)`` to be computed from their stored
    minutes once ``due_ms`` has passed (an hour already queued stays queued once)."""
    db.executemany(
        "INSERT OR IGNORE INTO aggregate_dirty (level, point_id, start_ms, end_ms, due_ms) VALUES ('hour', ?, ?, ?, ?)",
        list(hours),
    )


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def dirty_backlog(db: sqlite3.Connection, now_ms: int | None = None, level: str | None = None) -> tuple[int, int]:
    """(ranges queued, their total length in ms) of work due by ``now_ms`` (all when None), of
    one level or both: how far the aggregator is behind (hours still open are not behind)."""
    n, total = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(end_ms - start_ms), 0) FROM aggregate_dirty WHERE due_ms <= ? "
        "AND (? IS NULL OR level = ?)", (now_ms if now_ms is not None else 2**62, level, level),
    ).fetchone()
    return int(n), int(total)


# ------------------------------------------------------------------ what the aggregator reads

@dataclass(frozen=True, slots=True)
class PointFacts:
    """What computing a point's periods needs of the registry."""

    point_id: int
    device_id: int
    code: str
    field: str
    interval_s: int


def point_facts(db: sqlite3.Connection, point_ids: Collection[int]) -> dict[int, PointFacts]:
    out: dict[int, PointFacts] = {}
    for chunk in _chunks(point_ids):
        marks = ",".join("?" * len(chunk))
        for pid, did, code, field, interval in db.execute(
            f"SELECT p.id, p.device_id, p.code, p.field, d.interval_s FROM points p "
            f"JOIN devices d ON d.id = p.device_id WHERE p.id IN ({marks})", chunk,
        ):
            out[pid] = PointFacts(pid, did, code, field, int(interval))
    return out


def _chunks(ids: Collection[int], size: int = 500) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for at in range(0, len(ordered), size):
        yield ordered[at:at + size]


# ------------------------------------------------------------------ the aggregates themselves

def aggregates(db: sqlite3.Connection, point_ids: Collection[int], period: Period, start_ms: int, end_ms: int
               ) -> list[AggregateRow]:
    """The stored periods of these points that start in [start_ms, end_ms), by point then time."""
    out: list[AggregateRow] = []
    for chunk in _chunks(point_ids):
        marks = ",".join("?" * len(chunk))
        out.extend(_row(r) for r in db.execute(
            f"SELECT {_COLUMNS} FROM aggregates WHERE point_id IN ({marks}) AND period = ? "
            f"AND start_ms >= ? AND start_ms < ? ORDER BY point_id, start_ms",
            (*chunk, period.value, start_ms, end_ms),
        ))
    return out


# ------------------------------------------------------------------ device-reported against our own

#: the table of each period's device-reported values (months: devices report none)
_REPORTED = {Period.MINUTE: "readings_minute", Period.HOUR: "readings_hour", Period.DAY: "readings_day"}
#: a device's sub-fields for a period's mean, minimum and maximum, and our column for each
_STATS = (("Avg", "avg"), ("Min", "min"), ("Max", "max"))


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A period where a device's own value and forewarn's differ beyond the tolerance."""

    device_id: int
    mn: str
    code: str
    #: Avg, Min or Max
    field: str
    period: Period
    start_ms: int
    reported: float
    computed: float
    #: the point forewarn computed from (the factor's Rtd)
    point_id: int


def mismatches(db: sqlite3.Connection, scope: Scope, period: Period, start_ms: int, end_ms: int, *,
               relative: float, absolute: float, site_id: int | None = None, limit: int = 1000) -> list[Mismatch]:
    """Periods in [start_ms, end_ms) where a device's reported Avg/Min/Max (CN 2051, 2061, 2031)
    differs from forewarn's own value of the same factor's real-time data by more than
    ``absolute + relative * |reported|``, for the sites in ``scope``. Only periods both have
    are compared; at most ``limit``, oldest first."""
    table = _REPORTED.get(period)
    if table is None:
        return []
    out: list[Mismatch] = []
    site_clause = "AND d.site_id = ? " if site_id is not None else ""
    for sub, column in _STATS:
        args: list[object] = [period.value, sub, start_ms, end_ms]
        if site_id is not None:
            args.append(site_id)
        args += [absolute, relative, limit]
        sql = (
            f"SELECT d.id, d.mn, rep_p.code, r.ts, r.value, a.{column}, own_p.id "
            f"FROM points rep_p JOIN devices d ON d.id = rep_p.device_id JOIN sites s ON s.id = d.site_id "
            f"JOIN points own_p ON own_p.device_id = rep_p.device_id AND own_p.code = rep_p.code "
            f"AND own_p.field = 'Rtd' "
            f"JOIN {table} r ON r.point_id = rep_p.id "
            f"JOIN aggregates a ON a.point_id = own_p.id AND a.period = ? AND a.start_ms = r.ts "
            f"WHERE rep_p.field = ? AND r.ts >= ? AND r.ts < ? {site_clause}"
            f"AND r.value IS NOT NULL AND a.{column} IS NOT NULL "
            f"AND ABS(r.value - a.{column}) > ? + ? * ABS(r.value) AND {{scope}} "
            f"ORDER BY r.ts, d.mn, rep_p.code LIMIT ?"
        )
        out.extend(Mismatch(device_id=r[0], mn=r[1], code=r[2], field=sub, period=period, start_ms=r[3],
                            reported=r[4], computed=r[5], point_id=r[6])
                   for r in db.execute(*scoped(sql, scope, args)))
    return sorted(out, key=lambda m: (m.start_ms, m.mn, m.code, m.field))[:limit]


def point_ids(db: sqlite3.Connection, device_ids: Collection[int]) -> dict[tuple[int, str, str], int]:
    """(device_id, code, field) -> point id for every point of these devices."""
    out: dict[tuple[int, str, str], int] = {}
    for chunk in _chunks(device_ids):
        for pid, did, code, field in db.execute(
            f"SELECT id, device_id, code, field FROM points WHERE device_id IN ({','.join('?' * len(chunk))})", chunk,
        ):
            out[(did, code, field)] = pid
    return out


def points_of_site(db: sqlite3.Connection, site_id: int | None) -> list[int]:
    """Every point of a site (of every site when None): what a recomputation covers."""
    if site_id is None:
        return [r[0] for r in db.execute("SELECT id FROM points ORDER BY id")]
    return [r[0] for r in db.execute(
        "SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.site_id = ? ORDER BY p.id", (site_id,))]


# ------------------------------------------------------------------ computing them, in SQL
#
# The arithmetic runs inside SQLite: sqlite3 releases the GIL while a statement steps, so the
# aggregation on the writer thread leaves the event loop (which parses every device's frames)
# its core, where the same arithmetic in Python competed with it for the GIL row by row.
# Each computation works on the points staged in temp.agg_points (with the upper limit and
# the reporting interval of each) and, for audit marks, temp.agg_invalid.

_TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS agg_points (point_id INTEGER PRIMARY KEY, limit_value REAL, "
    "strict INTEGER NOT NULL, interval_ms INTEGER NOT NULL)",
    "CREATE TEMP TABLE IF NOT EXISTS agg_invalid (point_id INTEGER NOT NULL, start_ms INTEGER NOT NULL, "
    "end_ms INTEGER NOT NULL)",
    "CREATE TEMP TABLE IF NOT EXISTS agg_bounds (start_ms INTEGER PRIMARY KEY, end_ms INTEGER NOT NULL, "
    "needed INTEGER NOT NULL)",
)

#: a minute's values: valid (ok) = flag N and in no invalid range; over = valid and beyond the
#: limit (strict: '>', else '>='); held until the next value, at most one reporting interval.
#: The flag is N with enough valid values, else '?' until _MINUTE_FLAGS_SQL says which.
_MINUTES_SQL = """
INSERT INTO aggregates (point_id, period, start_ms, avg, min, max, cou, n_received, n_valid, n_over, over_ms, parts,
                        parts_valid, valid, flag, upper_limit, computed_ms)
SELECT point_id, 'minute', start, avg, lo, hi, cou, n, n_ok, n_over, over_ms, n, n_ok,
       n_ok > 0 AND n_ok >= :share * n, CASE WHEN n_ok > 0 AND n_ok >= :share * n THEN 'N' ELSE '?' END, lim, :now
  FROM (SELECT point_id, start, COUNT(*) AS n, SUM(ok) AS n_ok,
               COALESCE(AVG(CASE WHEN ok THEN value END), AVG(value)) AS avg,
               CASE WHEN SUM(ok) > 0 THEN MIN(CASE WHEN ok THEN value END) ELSE MIN(value) END AS lo,
               CASE WHEN SUM(ok) > 0 THEN MAX(CASE WHEN ok THEN value END) ELSE MAX(value) END AS hi,
               SUM(CASE WHEN ok THEN value END) AS cou, SUM(over) AS n_over, SUM(hold) AS over_ms,
               MAX(limit_value) AS lim
          FROM (SELECT point_id, ts - ts % 60000 AS start, value, ok, limit_value,
                       CASE WHEN over THEN MIN(COALESCE((SELECT MIN(n.ts) FROM readings_rtd n
                                                         WHERE n.point_id = v.point_id AND n.ts > v.ts) - ts,
                                                        interval_ms), interval_ms) ELSE 0 END AS hold, over
                  FROM (SELECT r.point_id, r.ts, r.value, p.limit_value, p.interval_ms,
                               (r.flag = 'N' AND NOT EXISTS (SELECT 1 FROM temp.agg_invalid i
                                   WHERE i.point_id = r.point_id AND r.ts >= i.start_ms AND r.ts < i.end_ms)) AS ok,
                               (r.flag = 'N' AND p.limit_value IS NOT NULL
                                AND CASE WHEN p.strict THEN r.value > p.limit_value ELSE r.value >= p.limit_value END
                                AND NOT EXISTS (SELECT 1 FROM temp.agg_invalid i WHERE i.point_id = r.point_id
                                                AND r.ts >= i.start_ms AND r.ts < i.end_ms)) AS over
                          FROM temp.agg_points p CROSS JOIN readings_rtd r ON r.point_id = p.point_id
                         WHERE r.ts >= :m0 AND r.ts < :m1 AND r.value IS NOT NULL) v)
         GROUP BY point_id, start)
"""

#: a minute without enough valid values takes the most common flag of those not valid (I:
#: flagged N but marked invalid in audit), ties by letter
_MINUTE_FLAGS_SQL = """
UPDATE aggregates SET flag = COALESCE((
    SELECT CASE WHEN r.flag = 'N' THEN 'I' ELSE r.flag END AS why FROM readings_rtd r
     WHERE r.point_id = aggregates.point_id AND r.ts >= aggregates.start_ms AND r.ts < aggregates.start_ms + 60000
       AND r.value IS NOT NULL AND NOT (r.flag = 'N' AND NOT EXISTS (SELECT 1 FROM temp.agg_invalid i
           WHERE i.point_id = r.point_id AND r.ts >= i.start_ms AND r.ts < i.end_ms))
     GROUP BY why ORDER BY COUNT(*) DESC, why LIMIT 1), 'N')
 WHERE period = 'minute' AND flag = '?' AND start_ms >= :m0 AND start_ms < :m1
   AND point_id IN (SELECT point_id FROM temp.agg_points)
"""

#: periods from their parts: counts add up, valid with enough valid parts (agg_bounds.needed),
#: mean/min/max of the valid parts (of all when none is), flag N with enough valid values, else
#: the flag of the most values not valid among the parts
_PARENTS_SQL = """
INSERT INTO aggregates (point_id, period, start_ms, avg, min, max, cou, n_received, n_valid, n_over, over_ms, parts,
                        parts_valid, valid, flag, upper_limit, computed_ms)
SELECT point_id, :parent, start, avg, lo, hi, cou, n, n_ok, n_over, over_ms, parts, parts_ok, parts_ok >= needed,
       CASE WHEN n_ok > 0 AND n_ok >= :share * n THEN 'N' ELSE
            COALESCE((SELECT c2.flag FROM aggregates c2 WHERE c2.point_id = g.point_id AND c2.period = :child
                        AND c2.start_ms >= g.start AND c2.start_ms < g.stop AND c2.flag != 'N'
                      GROUP BY c2.flag ORDER BY SUM(c2.n_received - c2.n_valid) DESC, c2.flag LIMIT 1), 'N') END,
       lim, :now
  FROM (SELECT p.point_id, b.start_ms AS start, b.end_ms AS stop, b.needed, p.limit_value AS lim,
               COALESCE(AVG(CASE WHEN c.valid THEN c.avg END), AVG(c.avg)) AS avg,
               CASE WHEN SUM(c.valid) > 0 THEN MIN(CASE WHEN c.valid THEN c.min END) ELSE MIN(c.min) END AS lo,
               CASE WHEN SUM(c.valid) > 0 THEN MAX(CASE WHEN c.valid THEN c.max END) ELSE MAX(c.max) END AS hi,
               SUM(c.cou) AS cou, SUM(c.n_received) AS n, SUM(c.n_valid) AS n_ok, SUM(c.n_over) AS n_over,
               SUM(c.over_ms) AS over_ms, COUNT(*) AS parts, SUM(c.valid) AS parts_ok
          FROM temp.agg_points p CROSS JOIN temp.agg_bounds b CROSS JOIN aggregates c
            ON c.point_id = p.point_id AND c.period = :child AND c.start_ms >= b.start_ms AND c.start_ms < b.end_ms
         GROUP BY p.point_id, b.start_ms) g
"""


def stage(db: sqlite3.Connection, points: Iterable[tuple[int, float | None, bool, int]],
          invalid: Iterable[tuple[int, int, int]] = ()) -> None:
    """Stage the points the next computations cover: (point_id, upper limit or None, strict
    ('>' rather than '>='), reporting interval ms), and their invalid ranges (point_id, start, end)."""
    for sql in _TEMP:
        db.execute(sql)
    db.execute("DELETE FROM temp.agg_points")
    db.execute("DELETE FROM temp.agg_invalid")
    db.executemany("INSERT INTO temp.agg_points VALUES (?, ?, ?, ?)",
                   [(p, lim, int(strict), interval) for p, lim, strict, interval in points])
    db.executemany("INSERT INTO temp.agg_invalid VALUES (?, ?, ?)", list(invalid))


def compute_minutes(db: sqlite3.Connection, start_ms: int, end_ms: int, *, share: float, now_ms: int
                    ) -> tuple[int, set[int]]:
    """Compute again the staged points' minutes starting in [start_ms, end_ms) (minute-aligned)
    from readings_rtd; minutes without data any more are deleted. Returns the minutes written
    and the points whose minutes changed (had some before or have some now): only their hours
    need combining again."""
    touched_sql = ("SELECT DISTINCT point_id FROM aggregates WHERE period = 'minute' AND start_ms >= ? "
                   "AND start_ms < ? AND point_id IN (SELECT point_id FROM temp.agg_points)")
    touched = {r[0] for r in db.execute(touched_sql, (start_ms, end_ms))}
    db.execute("DELETE FROM aggregates WHERE period = 'minute' AND start_ms >= ? AND start_ms < ? "
               "AND point_id IN (SELECT point_id FROM temp.agg_points)", (start_ms, end_ms))
    cur = db.execute(_MINUTES_SQL, {"m0": start_ms, "m1": end_ms, "share": share, "now": now_ms})
    written = max(cur.rowcount, 0)
    db.execute(_MINUTE_FLAGS_SQL, {"m0": start_ms, "m1": end_ms})
    if written:
        touched.update(r[0] for r in db.execute(touched_sql, (start_ms, end_ms)))
    return written, touched


def compute_parents(db: sqlite3.Connection, child: Period, parent: Period, bounds: Sequence[tuple[int, int, int]],
                    *, share: float, now_ms: int) -> int:
    """Compute again the staged points' ``parent`` periods given as (start, end, valid parts
    needed), from their stored ``child`` periods; periods without parts any more are deleted."""
    for sql in _TEMP:
        db.execute(sql)
    db.execute("DELETE FROM temp.agg_bounds")
    db.executemany("INSERT INTO temp.agg_bounds VALUES (?, ?, ?)", list(bounds))
    db.execute("DELETE FROM aggregates WHERE period = ? AND point_id IN (SELECT point_id FROM temp.agg_points) "
               "AND start_ms IN (SELECT start_ms FROM temp.agg_bounds)", (parent.value,))
    cur = db.execute(_PARENTS_SQL, {"parent": parent.value, "child": child.value, "share": share, "now": now_ms})
    return max(cur.rowcount, 0)


def behind(db: sqlite3.Connection) -> list[tuple[int, int, int]]:
    """For each point with real-time data newer than its newest computed minute (or with data
    and no minute at all): the range (point_id, start, end) from that minute on to its newest
    value. What a start-up queues: data stored while minutes were not noted (a crash between
    a commit and the next flush, aggregation switched off, history from before this table)."""
    out: list[tuple[int, int, int]] = []
    for pid, done, first, last in db.execute(
        "SELECT p.id, (SELECT MAX(start_ms) FROM aggregates a WHERE a.point_id = p.id AND a.period = 'minute'), "
        "(SELECT MIN(ts) FROM readings_rtd r WHERE r.point_id = p.id), "
        "(SELECT MAX(ts) FROM readings_rtd r WHERE r.point_id = p.id) FROM points p"
    ):
        if last is None:
            continue
        start = first if done is None else done + 60_000
        if last >= start:
            out.append((pid, start, last + 1))
    return out
