"""The reads behind a site's page and its playback: the site, its devices and points, their
readings as runs of one state, and the site's alarms with their steps.

Every entry point that names a site or an alarm takes the user's :class:`Scope` (``scoped()``
beneath it), so one outside it reads as absent; readings are then read by the point ids those
scoped reads returned. All of it runs on a reader thread (``store/readers.py``).

A *run* is a stretch of one point's readings without a silence longer than ``stale_ms`` and,
when a threshold is given, on one side of it throughout: the shape both an equipment band
(ON while above ``on_above``) and an online interval (heard, no threshold) take. SQLite finds
the boundaries with window functions over the ``(point_id, ts)`` key, so a day of minute data
comes back as a handful of rows rather than 1,440.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import msgspec

from forewarn.access.scope import Scope, scoped
from forewarn.model import Kind

__all__ = ["AlarmRow", "AlarmStepRow", "DeviceRow", "PointRow", "SiteRow", "alarm_window", "columns",
           "device_last_contact", "kind_with_data", "latest_reading", "runs", "site_alarms_between", "site_devices",
           "site_points", "site_row", "steps_of"]

TABLES = {kind: f"readings_{kind.value}" for kind in Kind}
#: the order in which a point's kinds are tried: what a page shows when a point has several
KIND_ORDER = (Kind.RTD, Kind.STATUS, Kind.MINUTE, Kind.HOUR, Kind.DAY, Kind.RUNTIME)


@dataclass(frozen=True, slots=True)
class SiteRow:
    id: int
    name: str
    site_type: str
    status: str
    region_code: str | None
    region_name: str | None
    parent_region_name: str | None
    longitude: float | None
    latitude: float | None
    enterprise_id: int
    enterprise: str


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: int
    mn: str
    protocol: str
    device_kind: str
    interval_s: int
    status: str
    registered_ms: int
    last_ms: int | None


@dataclass(frozen=True, slots=True)
class PointRow:
    id: int
    device_id: int
    mn: str
    code: str
    field: str
    name: str
    quantity: str
    unit: str
    role: str
    status: str


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: int
    rule_id: str
    level: int
    state: str
    condition: str
    mn: str
    point: str
    title_zh: str
    title_en: str
    explanation_zh: str
    explanation_en: str
    first_ts: int
    last_ts: int
    cleared_ts: int | None


@dataclass(frozen=True, slots=True)
class AlarmStepRow:
    alarm_id: int
    step: str
    actor: str
    at_ms: int
    #: the data time the step is about (a rule's decision), else when it was taken
    ts: int
    note: str
    level: int | None


_SITE_SQL = (
    "SELECT s.id, s.name, s.site_type, s.status, s.region_code, r.name, pr.name, s.longitude, s.latitude, "
    "e.id, e.name FROM sites s JOIN enterprises e ON e.id = s.enterprise_id "
    "LEFT JOIN regions r ON r.code = s.region_code LEFT JOIN regions pr ON pr.code = r.parent_code "
    "WHERE s.id = ? AND {scope}"
)


def site_row(db: sqlite3.Connection, scope: Scope, site_id: int) -> SiteRow | None:
    """The site, or None when it does not exist or is outside ``scope``."""
    row = db.execute(*scoped(_SITE_SQL, scope, [site_id])).fetchone()
    return None if row is None else SiteRow(*row)


def site_devices(db: sqlite3.Connection, scope: Scope, site_id: int, *, active_only: bool) -> list[DeviceRow]:
    sql = ("SELECT d.id, d.mn, d.protocol, d.device_kind, d.interval_s, d.status, d.registered_ms, a.last_ms "
           "FROM devices d JOIN sites s ON s.id = d.site_id LEFT JOIN device_activity a ON a.device_id = d.id "
           "WHERE d.site_id = ? AND {scope}" + (" AND d.status = 'active'" if active_only else "") + " ORDER BY d.mn")
    return [DeviceRow(*row) for row in db.execute(*scoped(sql, scope, [site_id]))]


def site_points(db: sqlite3.Connection, scope: Scope, site_id: int, *, active_only: bool) -> list[PointRow]:
    sql = ("SELECT p.id, p.device_id, d.mn, p.code, p.field, p.name, p.quantity, p.unit, p.role, p.status "
           "FROM points p JOIN devices d ON d.id = p.device_id JOIN sites s ON s.id = d.site_id "
           "WHERE d.site_id = ? AND {scope}"
           + (" AND p.status = 'active' AND d.status = 'active'" if active_only else "")
           + " ORDER BY d.mn, p.code, p.field")
    return [PointRow(*row) for row in db.execute(*scoped(sql, scope, [site_id]))]


def device_last_contact(db: sqlite3.Connection, device_id: int) -> int | None:
    row = db.execute("SELECT last_ms FROM device_activity WHERE device_id = ?", (device_id,)).fetchone()
    return None if row is None else int(row[0])


def kind_with_data(db: sqlite3.Connection, point_id: int, from_ms: int | None = None,
                   to_ms: int | None = None) -> Kind | None:
    """The first kind (rtd, status, minute ...) holding a reading of the point (in the range, if given)."""
    lo = -(2**63) if from_ms is None else from_ms
    hi = 2**63 - 1 if to_ms is None else to_ms
    for kind in KIND_ORDER:
        if db.execute(f"SELECT 1 FROM {TABLES[kind]} WHERE point_id = ? AND ts >= ? AND ts <= ? LIMIT 1",
                      (point_id, lo, hi)).fetchone() is not None:
            return kind
    return None


def latest_reading(db: sqlite3.Connection, point_id: int, kind: Kind,
                   at_ms: int | None = None) -> tuple[int, float | None, str] | None:
    """The newest reading (ts, value, flag) of the point's ``kind``, at or before ``at_ms`` if given."""
    table = TABLES[kind]
    if at_ms is None:
        row = db.execute(f"SELECT ts, value, flag FROM {table} WHERE point_id = ? ORDER BY ts DESC LIMIT 1",
                         (point_id,)).fetchone()
    else:
        row = db.execute(f"SELECT ts, value, flag FROM {table} WHERE point_id = ? AND ts <= ? ORDER BY ts DESC "
                         "LIMIT 1", (point_id, at_ms)).fetchone()
    return None if row is None else (int(row[0]), row[1], str(row[2]))


_INTS = msgspec.json.Decoder(list[int])
_VALUES = msgspec.json.Decoder(list[float | None])
_FLAGS = msgspec.json.Decoder(list[str])


def columns(db: sqlite3.Connection, kind: Kind, point_id: int, from_ms: int, to_ms: int
            ) -> tuple[list[int], list[float | None], list[str]]:
    """Every reading of the point in [from_ms, to_ms] as three columns (ts, value, flag), in order.

    SQLite builds each column as JSON text (``json_group_array``, with the GIL released) and
    msgspec turns it into a list in C: a day of minute data is three short calls, not 1,440
    Python tuples built one by one while the event loop waits for the GIL.
    """
    row = db.execute(
        "SELECT json_group_array(ts), json_group_array(value), json_group_array(flag) FROM "
        f"(SELECT ts, value, flag FROM {TABLES[kind]} WHERE point_id = ? AND ts >= ? AND ts <= ? ORDER BY ts)",
        (point_id, from_ms, to_ms),
    ).fetchone()
    return _INTS.decode(row[0]), _VALUES.decode(row[1]), _FLAGS.decode(row[2])


def _runs_sql(table: str, threshold: bool) -> str:
    state = "(value > :th)" if threshold else "1"
    nulls = " AND value IS NOT NULL" if threshold else ""
    return (
        "SELECT ts, st, gap, prev, ahead FROM (SELECT ts, st, ts - LAG(ts) OVER w AS gap, LAG(st) OVER w AS prev, "
        "LEAD(ts) OVER w - ts AS ahead FROM "
        f"(SELECT ts, {state} AS st FROM {table} WHERE point_id = :p AND ts >= :lo AND ts <= :hi{nulls}) "
        "WINDOW w AS (ORDER BY ts)) "
        "WHERE gap IS NULL OR gap > :stale OR prev != st OR ahead IS NULL OR ahead > :stale"
    )


def runs(db: sqlite3.Connection, kind: Kind, point_id: int, from_ms: int, to_ms: int, stale_ms: int,
         on_above: float | None = None) -> list[tuple[int, int, bool]]:
    """``(start, end, on)`` stretches of the point's readings within [from_ms, to_ms], clipped to it.

    A stretch ends ``stale_ms`` after its last reading when the next one is later than that (or
    there is none), or at the reading where the state changes. Without ``on_above`` every reading
    is ``on`` (heard); with it, a reading is on when its value is above it (NULL values are not
    judged, as the engine does not judge them). Readings up to ``stale_ms`` before ``from_ms``
    count, so the state at ``from_ms`` is known.
    """
    params = {"p": point_id, "lo": from_ms - stale_ms, "hi": to_ms, "stale": stale_ms, "th": on_above}
    out: list[tuple[int, int, bool]] = []
    start: int | None = None
    current = False
    for ts, st, gap, _prev, ahead in db.execute(_runs_sql(TABLES[kind], on_above is not None), params):
        on = bool(st)
        if start is None or (gap is not None and gap > stale_ms):
            start, current = ts, on
        elif on != current:
            out.append((start, ts, current))
            start, current = ts, on
        if ahead is None or ahead > stale_ms:
            out.append((start, ts + stale_ms, current))
            start = None
    clipped = [(max(a, from_ms), min(b, to_ms), on) for a, b, on in out]
    return [(a, b, on) for a, b, on in clipped if b > a]


_ALARM_COLUMNS = ("a.id, a.rule_id, a.level, a.state, a.condition, a.mn, a.point, a.title_zh, a.title_en, "
                  "a.explanation_zh, a.explanation_en, a.first_ts, a.last_ts, a.cleared_ts")


def alarm_window(db: sqlite3.Connection, scope: Scope, alarm_id: int) -> tuple[int, AlarmRow] | None:
    """(site id, alarm) of an alarm in scope that belongs to a site; None otherwise."""
    row = db.execute(*scoped(f"SELECT a.site_id, {_ALARM_COLUMNS} FROM alarms a JOIN sites s ON s.id = a.site_id "
                             "WHERE a.id = ? AND {scope}", scope, [alarm_id])).fetchone()
    return None if row is None else (int(row[0]), AlarmRow(*row[1:]))


def site_alarms_between(db: sqlite3.Connection, scope: Scope, site_id: int, from_ms: int, to_ms: int,
                        limit: int) -> list[AlarmRow]:
    """The site's alarms whose episode overlaps [from_ms, to_ms] (active ones reach to now), newest first."""
    sql = (f"SELECT {_ALARM_COLUMNS} FROM alarms a JOIN sites s ON s.id = a.site_id WHERE a.site_id = ? "
           "AND a.first_ts <= ? AND (a.condition = 'active' OR MAX(a.last_ts, COALESCE(a.cleared_ts, 0)) >= ?) "
           "AND {scope} ORDER BY a.first_ts DESC, a.id DESC LIMIT ?")
    return [AlarmRow(*row) for row in db.execute(*scoped(sql, scope, [site_id, to_ms, from_ms, limit]))]


def steps_of(db: sqlite3.Connection, alarm_ids: list[int]) -> list[AlarmStepRow]:
    """Every handling step of these alarms, in the order they were taken."""
    if not alarm_ids:
        return []
    marks = ", ".join("?" * len(alarm_ids))
    sql = ("SELECT alarm_id, step, actor, at_ms, COALESCE(json_extract(data, '$.data_time'), at_ms), note, "
           f"json_extract(data, '$.level') FROM alarm_steps WHERE alarm_id IN ({marks}) ORDER BY id")
    return [AlarmStepRow(*row) for row in db.execute(sql, alarm_ids)]
