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
    "AggregateRow", "Mismatch", "PointFacts", "aggregates", "delete_periods", "dirty_backlog", "mark_dirty",
    "mismatches", "period_starts", "point_facts", "point_ids", "points_of_site", "queue_hours", "rtd_rows",
    "take_dirty", "upsert_aggregates",
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

    def as_tuple(self) -> tuple[object, ...]:
        return (self.point_id, self.period.value, self.start_ms, self.avg, self.min, self.max, self.cou,
                self.n_received, self.n_valid, self.n_over, self.over_ms, self.parts, self.parts_valid,
                int(self.valid), self.flag, self.upper_limit, self.computed_ms)


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


def dirty_backlog(db: sqlite3.Connection, now_ms: int | None = None) -> tuple[int, int]:
    """(ranges queued, their total length in ms) of work due by ``now_ms`` (all when None): how
    far the aggregator is behind (hours still open are not behind)."""
    n, total = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(end_ms - start_ms), 0) FROM aggregate_dirty WHERE due_ms <= ?",
        (now_ms if now_ms is not None else 2**62,),
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


def rtd_rows(db: sqlite3.Connection, point_ids: Collection[int], start_ms: int, end_ms: int
             ) -> dict[int, list[tuple[int, float | None, str]]]:
    """These points' real-time values (ts, value, flag) in [start_ms, end_ms), by point, in time order."""
    out: dict[int, list[tuple[int, float | None, str]]] = {}
    for chunk in _chunks(point_ids):
        for pid, ts, value, flag in db.execute(
            f"SELECT point_id, ts, value, flag FROM readings_rtd WHERE point_id IN ({','.join('?' * len(chunk))}) "
            f"AND ts >= ? AND ts < ? ORDER BY point_id, ts", (*chunk, start_ms, end_ms),
        ):
            out.setdefault(pid, []).append((ts, value, flag))
    return out


def _chunks(ids: Collection[int], size: int = 500) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for at in range(0, len(ordered), size):
        yield ordered[at:at + size]


# ------------------------------------------------------------------ the aggregates themselves

def upsert_aggregates(db: sqlite3.Connection, rows: Iterable[AggregateRow]) -> None:
    db.executemany(
        f"INSERT OR REPLACE INTO aggregates ({_COLUMNS}) VALUES ({','.join('?' * 17)})",
        [r.as_tuple() for r in rows],
    )


def delete_periods(db: sqlite3.Connection, period: Period, keys: Iterable[tuple[int, int]]) -> None:
    """Delete the periods ``(point_id, start_ms)`` (those without data any more)."""
    db.executemany("DELETE FROM aggregates WHERE point_id = ? AND period = ? AND start_ms = ?",
                   [(p, period.value, start) for p, start in keys])


def period_starts(db: sqlite3.Connection, point_ids: Collection[int], period: Period, start_ms: int, end_ms: int
                  ) -> set[tuple[int, int]]:
    """(point_id, start_ms) of the stored periods of these points starting in [start_ms, end_ms)."""
    out: set[tuple[int, int]] = set()
    for chunk in _chunks(point_ids):
        out.update(db.execute(
            f"SELECT point_id, start_ms FROM aggregates WHERE point_id IN ({','.join('?' * len(chunk))}) "
            f"AND period = ? AND start_ms >= ? AND start_ms < ?", (*chunk, period.value, start_ms, end_ms),
        ))
    return out


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
