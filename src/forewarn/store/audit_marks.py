"""Data-audit marks in the store: what is invalid when, and the scoped reads behind the marks' pages.

A mark lays "invalid" (or "valid again") over a half-open time range of one point, or of every
point of a device or a site; readings are never touched. For any point and time, the newest
mark in force (highest id, not revoked) covering that time decides: so a later "valid again"
over part of an invalid range re-validates that part, and revoking a mark gives back what the
marks before it said. :func:`invalid_ranges` is that rule, once, for whoever counts data (the
aggregation, the figures, the reports, the live rule engine's index).

Marks are few (a reviewer's work) beside points (thousands) and readings (millions), so the
reads start from the marks overlapping the window and reach their points through the registry,
rather than asking about each point.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from forewarn.access.scope import Scope, scoped
from forewarn.model import MarkTarget

__all__ = [
    "MarkFilter", "MarkRow", "Range", "count_marks", "find_target", "insert_mark", "invalid_by_point_key",
    "invalid_ranges", "invalid_ranges_all", "mark_in_scope", "marks_version", "page_marks", "points_of", "set_end",
    "set_revoked", "target_in_scope",
]

Range = tuple[int, int]
#: the end of an open-ended mark, for arithmetic (year 2255)
OPEN_END = 2**53

_MARK_COLUMNS = ("m.id, m.target, m.target_id, m.site_id, m.start_ms, m.end_ms, m.valid, m.reason, m.note, m.actor, "
                 "m.origin, m.created_ms, m.revoked_ms, m.revoked_by, m.revoke_note, s.name")
_MARK_KEYS = ("id", "target", "target_id", "site_id", "start_ms", "end_ms", "valid", "reason", "note", "actor",
              "origin", "created_ms", "revoked_ms", "revoked_by", "revoke_note", "site")

# the points each mark in force over [?, ?) covers, with the mark's id and range (window: end, start)
_COVERED = """
SELECT m.target_id AS point_id, m.id, m.start_ms, m.end_ms, m.valid FROM data_marks m
 WHERE m.target = 'point' AND m.revoked_ms IS NULL AND m.start_ms < ?1 AND (m.end_ms IS NULL OR m.end_ms > ?2)
UNION ALL
SELECT p.id, m.id, m.start_ms, m.end_ms, m.valid FROM data_marks m JOIN points p ON p.device_id = m.target_id
 WHERE m.target = 'device' AND m.revoked_ms IS NULL AND m.start_ms < ?1 AND (m.end_ms IS NULL OR m.end_ms > ?2)
UNION ALL
SELECT p.id, m.id, m.start_ms, m.end_ms, m.valid FROM data_marks m JOIN devices d ON d.site_id = m.target_id
  JOIN points p ON p.device_id = d.id
 WHERE m.target = 'site' AND m.revoked_ms IS NULL AND m.start_ms < ?1 AND (m.end_ms IS NULL OR m.end_ms > ?2)
"""


# the same, from the points asked (one index seek per point and level: cheaper when they are few)
_COVERING = """
WITH asked(id) AS (SELECT value FROM json_each(?3)),
     p(id, device_id, site_id) AS (SELECT pt.id, pt.device_id, d.site_id FROM asked JOIN points pt ON pt.id = asked.id
                                   JOIN devices d ON d.id = pt.device_id)
SELECT p.id, m.id, m.start_ms, m.end_ms, m.valid FROM p JOIN data_marks m ON m.target = 'point' AND m.target_id = p.id
 WHERE m.revoked_ms IS NULL AND m.start_ms < ?1 AND (m.end_ms IS NULL OR m.end_ms > ?2)
UNION ALL
SELECT p.id, m.id, m.start_ms, m.end_ms, m.valid FROM p JOIN data_marks m ON m.target = 'device'
   AND m.target_id = p.device_id
 WHERE m.revoked_ms IS NULL AND m.start_ms < ?1 AND (m.end_ms IS NULL OR m.end_ms > ?2)
UNION ALL
SELECT p.id, m.id, m.start_ms, m.end_ms, m.valid FROM p JOIN data_marks m ON m.target = 'site'
   AND m.target_id = p.site_id
 WHERE m.revoked_ms IS NULL AND m.start_ms < ?1 AND (m.end_ms IS NULL OR m.end_ms > ?2)
"""
#: up to this many points the marks are found from the points, beyond from the marks (about even at
#: 3,000 points with 1,000 marks in a year: 5,000 points 55 ms from the marks, 71 from the points)
_FROM_POINTS_MAX = 2000


def invalid_ranges(db: sqlite3.Connection, point_ids: Collection[int], start_ms: int, end_ms: int
                   ) -> dict[int, list[Range]]:
    """For each of ``point_ids`` with invalid data in ``[start_ms, end_ms)``: its merged, sorted,
    half-open invalid ranges, clipped to the window. Points with none are left out.

    Marks on a device or site apply to all their points; the newest mark in force covering a
    time decides (a later "valid again" re-validates its part); revoked marks do not count.
    """
    if not point_ids or end_ms <= start_ms:
        return {}
    wanted = point_ids if isinstance(point_ids, set | frozenset) else set(point_ids)
    if len(wanted) <= _FROM_POINTS_MAX:
        rows = db.execute(_COVERING, (end_ms, start_ms, json.dumps(sorted(wanted))))
        return _paint(rows, start_ms, end_ms, None)
    return _paint(db.execute(_COVERED, (end_ms, start_ms)), start_ms, end_ms, wanted)


def invalid_ranges_all(db: sqlite3.Connection, start_ms: int, end_ms: int = OPEN_END) -> dict[int, list[Range]]:
    """:func:`invalid_ranges` for every point that has any (the live rule engine's index: an
    open-ended mark's range ends at ``end_ms``)."""
    if end_ms <= start_ms:
        return {}
    return _paint(db.execute(_COVERED, (end_ms, start_ms)), start_ms, end_ms, None)


def _paint(rows: Iterable[tuple[int, int, int, int | None, int]], start_ms: int, end_ms: int,
           wanted: Collection[int] | None) -> dict[int, list[Range]]:
    """Each point's marks, in the order they were made, painted over the window."""
    marks: dict[int, list[tuple[int, int, int, int]]] = {}
    for point_id, mark_id, a, b, valid in rows:
        if wanted is not None and point_id not in wanted:
            continue
        marks.setdefault(point_id, []).append((mark_id, max(a, start_ms), min(OPEN_END if b is None else b, end_ms),
                                               valid))
    out: dict[int, list[Range]] = {}
    for point_id, items in marks.items():
        items.sort()
        ranges: list[Range] = []
        for _, a, b, valid in items:
            ranges = _subtract(ranges, a, b) if valid else _add(ranges, a, b)
        if ranges:
            out[point_id] = ranges
    return out


def _add(ranges: list[Range], a: int, b: int) -> list[Range]:
    """``ranges`` (sorted, disjoint, merged) with ``[a, b)`` added, merged again."""
    out: list[Range] = []
    placed = False
    for x, y in ranges:
        if y < a:
            out.append((x, y))
        elif b < x:
            if not placed:
                out.append((a, b))
                placed = True
            out.append((x, y))
        else:  # touching or overlapping: grow the new one
            a, b = min(a, x), max(b, y)
    if not placed:
        out.append((a, b))
        out.sort()
    return out


def _subtract(ranges: list[Range], a: int, b: int) -> list[Range]:
    """``ranges`` without ``[a, b)``."""
    out: list[Range] = []
    for x, y in ranges:
        if y <= a or b <= x:
            out.append((x, y))
            continue
        if x < a:
            out.append((x, a))
        if b < y:
            out.append((b, y))
    return out


# ---------------------------------------------------------------- targets and their points


_TARGET_SQL = {
    MarkTarget.POINT: "SELECT s.id, s.name, s.region_code FROM points p JOIN devices d ON d.id = p.device_id "
                      "JOIN sites s ON s.id = d.site_id WHERE p.id = ? AND {scope}",
    MarkTarget.DEVICE: "SELECT s.id, s.name, s.region_code FROM devices d JOIN sites s ON s.id = d.site_id "
                       "WHERE d.id = ? AND {scope}",
    MarkTarget.SITE: "SELECT s.id, s.name, s.region_code FROM sites s WHERE s.id = ? AND {scope}",
}


def target_in_scope(db: sqlite3.Connection, scope: Scope, target: MarkTarget, target_id: int
                    ) -> tuple[int, str] | None:
    """The site (id, name) of a point, device or site within ``scope``; ``None`` if there is none."""
    row = db.execute(*scoped(_TARGET_SQL[target], scope, [target_id])).fetchone()
    return (int(row[0]), str(row[1])) if row else None


def points_of(db: sqlite3.Connection, target: MarkTarget | str, target_id: int) -> list[int]:
    """Every point a mark on this target covers (its own, its device's, its site's)."""
    target = MarkTarget(target)
    if target is MarkTarget.POINT:
        return [target_id]
    if target is MarkTarget.DEVICE:
        rows = db.execute("SELECT id FROM points WHERE device_id = ? ORDER BY id", (target_id,))
    else:
        rows = db.execute("SELECT p.id FROM devices d JOIN points p ON p.device_id = d.id WHERE d.site_id = ? "
                          "ORDER BY p.id", (target_id,))
    return [int(r[0]) for r in rows]


# ---------------------------------------------------------------- writes (in the caller's transaction)


def insert_mark(db: sqlite3.Connection, *, target: MarkTarget, target_id: int, site_id: int, start_ms: int,
                end_ms: int | None, valid: bool, reason: str, note: str, actor: str, origin: str,
                created_ms: int) -> int:
    """Store one mark; return its id (ids order marks: the newest in force decides)."""
    cur = db.execute(
        "INSERT INTO data_marks (target, target_id, site_id, start_ms, end_ms, valid, reason, note, actor, origin, "
        "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (str(target), target_id, site_id, start_ms, end_ms, int(valid), reason, note, actor, origin, created_ms),
    )
    return int(cur.lastrowid or 0)


def set_revoked(db: sqlite3.Connection, mark_id: int, *, at_ms: int, by: str, note: str) -> None:
    """Revoke a mark: it stops counting; its row stays with who revoked it, when and why."""
    db.execute("UPDATE data_marks SET revoked_ms = ?, revoked_by = ?, revoke_note = ? WHERE id = ?",
               (at_ms, by, note, mark_id))


def set_end(db: sqlite3.Connection, mark_id: int, end_ms: int) -> None:
    """Give an open-ended mark its end (the maintenance is over)."""
    db.execute("UPDATE data_marks SET end_ms = ? WHERE id = ?", (end_ms, mark_id))


# ---------------------------------------------------------------- scoped reads


@dataclass(frozen=True, slots=True)
class MarkFilter:
    """Which marks a list shows. ``point_id``: every mark that covers the point (its own, its
    device's, its site's); ``from_ms``/``to_ms``: marks overlapping that window; ``active``:
    True only those in force, False only revoked ones."""

    site_id: int | None = None
    device_id: int | None = None
    point_id: int | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    active: bool | None = None
    reason: str | None = None
    valid: bool | None = None


def _where(flt: MarkFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if flt.site_id is not None:
        clauses.append("m.site_id = ?")
        params.append(flt.site_id)
    if flt.device_id is not None:
        clauses.append("((m.target = 'device' AND m.target_id = ?) OR (m.target = 'point' AND m.target_id IN "
                       "(SELECT id FROM points WHERE device_id = ?)) OR (m.target = 'site' AND m.target_id = "
                       "(SELECT site_id FROM devices WHERE id = ?)))")
        params += [flt.device_id] * 3
    if flt.point_id is not None:
        clauses.append("((m.target = 'point' AND m.target_id = ?) OR (m.target = 'device' AND m.target_id = "
                       "(SELECT device_id FROM points WHERE id = ?)) OR (m.target = 'site' AND m.target_id = "
                       "(SELECT d.site_id FROM points p JOIN devices d ON d.id = p.device_id WHERE p.id = ?)))")
        params += [flt.point_id] * 3
    if flt.to_ms is not None:
        clauses.append("m.start_ms < ?")
        params.append(flt.to_ms)
    if flt.from_ms is not None:
        clauses.append("(m.end_ms IS NULL OR m.end_ms > ?)")
        params.append(flt.from_ms)
    if flt.active is not None:
        clauses.append("m.revoked_ms IS NULL" if flt.active else "m.revoked_ms IS NOT NULL")
    if flt.reason is not None:
        clauses.append("m.reason = ?")
        params.append(flt.reason)
    if flt.valid is not None:
        clauses.append("m.valid = ?")
        params.append(int(flt.valid))
    return "".join(f" AND {c}" for c in clauses), params


def page_marks(db: sqlite3.Connection, scope: Scope, flt: MarkFilter, limit: int, offset: int
               ) -> list[MarkRow]:
    """The marks in scope matching ``flt``, newest first."""
    where, params = _where(flt)
    sql = (f"SELECT {_MARK_COLUMNS} FROM data_marks m JOIN sites s ON s.id = m.site_id WHERE {{scope}}{where} "
           "ORDER BY m.id DESC LIMIT ? OFFSET ?")
    return [_row(r) for r in db.execute(*scoped(sql, scope, [*params, limit, offset]))]


def count_marks(db: sqlite3.Connection, scope: Scope, flt: MarkFilter) -> int:
    where, params = _where(flt)
    sql = f"SELECT count(*) FROM data_marks m JOIN sites s ON s.id = m.site_id WHERE {{scope}}{where}"
    return int(db.execute(*scoped(sql, scope, params)).fetchone()[0])


def mark_in_scope(db: sqlite3.Connection, scope: Scope, mark_id: int) -> MarkRow | None:
    """One mark, if its site is in ``scope``."""
    sql = f"SELECT {_MARK_COLUMNS} FROM data_marks m JOIN sites s ON s.id = m.site_id WHERE m.id = ? AND {{scope}}"
    row = db.execute(*scoped(sql, scope, [mark_id])).fetchone()
    return _row(row) if row else None


@dataclass(frozen=True, slots=True)
class MarkRow:
    """One stored mark with its site's name."""

    id: int
    target: str
    target_id: int
    site_id: int
    start_ms: int
    end_ms: int | None
    valid: bool
    reason: str
    note: str
    actor: str
    origin: str
    created_ms: int
    revoked_ms: int | None
    revoked_by: str | None
    revoke_note: str | None
    site: str


def _row(row: Sequence[Any]) -> MarkRow:
    values = dict(zip(_MARK_KEYS, row, strict=True))
    values["valid"] = bool(values["valid"])
    return MarkRow(**values)



# ---------------------------------------------------------------- the live rule engine's index


def marks_version(db: sqlite3.Connection) -> int:
    """A number that grows with every change to any mark (each is audited), from any process."""
    row = db.execute("SELECT max(id) FROM audit_log WHERE entity = 'data_mark'").fetchone()
    return int(row[0] or 0)


def invalid_by_point_key(db: sqlite3.Connection, start_ms: int) -> dict[tuple[int, str, str], list[Range]]:
    """Every point's invalid ranges from ``start_ms`` on, keyed (device id, code, field) as the
    rule engine names points (an open-ended mark's range ends far in the future)."""
    ranges = invalid_ranges_all(db, start_ms)
    if not ranges:
        return {}
    keys = {int(r[0]): (int(r[1]), str(r[2]), str(r[3])) for r in db.execute(
        "SELECT p.id, p.device_id, p.code, p.field FROM points p WHERE p.id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(ranges)),))}
    return {keys[p]: spans for p, spans in ranges.items() if p in keys}


# ---------------------------------------------------------------- names people type


def find_target(db: sqlite3.Connection, target: MarkTarget, text: str) -> int | None:
    """The id of a point (an id, or ``MN/code-field``), a device (an id or its MN) or a site (an id)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if target is MarkTarget.DEVICE:
        row = db.execute("SELECT id FROM devices WHERE mn = ?", (text,)).fetchone()
    elif target is MarkTarget.POINT and "/" in text and "-" in text.split("/", 1)[1]:
        mn, rest = text.split("/", 1)
        code, field = rest.split("-", 1)
        row = db.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND "
                         "p.code = ? AND p.field = ?", (mn, code, field)).fetchone()
    else:
        row = None
    return int(row[0]) if row else None
