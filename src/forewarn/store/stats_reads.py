"""The reads behind the figures (``stats/figures.py``), scoped, each one pass over an index.

The figures of a month for a city of 10,000 devices must answer in well under a second, so
nothing here reads raw minute data for a whole fleet: the data counts come from the
``aggregates`` table (one row per real-time point and period), the online time and the
facilities' running time from the per-day tables ``device_online_days`` and ``facility_days`` (migration 0018), alarms
from ``alarms``. Only the instant "last heard before a past moment" seeks the readings, once
per point (one index seek each).

Every query carries the user's :class:`Scope` (``scoped()``) and an optional region prefix. The
sums walk sites, devices and points first (``CROSS JOIN`` fixes that order) and seek each one's
rows of the window by primary key, so their cost grows with the scope, not with the history kept;
where they group by site or device they group by ``s.id`` (and ``d.id``), the order the walk
already gives, so SQLite adds up as it goes instead of sorting into a temporary B-tree (half
the time of the online and facility sums of a month of the city; ``EXPLAIN QUERY PLAN``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from forewarn.access.scope import Scope, region_prefix, scoped

__all__ = [
    "AggregateRow", "AlarmTimes", "DeviceAggregate", "DeviceRow", "FacilityDay", "OnlineDay", "RegionRow", "SiteRow",
    "StatusChange", "aggregate_rows",
    "alarm_times", "device_aggregates", "device_online_days", "devices", "facility_days", "facility_sums",
    "online_sums", "site_facility_days", "last_heard_before", "online_days", "regions", "sites",
    "status_changes",
]


class RegionRow(NamedTuple):
    code: str
    name: str
    parent_code: str | None


class SiteRow(NamedTuple):
    id: int
    name: str
    status: str
    region_code: str | None
    enterprise_id: int
    enterprise: str
    enterprise_region: str | None


class StatusChange(NamedTuple):
    site_id: int
    effective_ms: int
    previous: str | None
    status: str


class DeviceRow(NamedTuple):
    id: int
    site_id: int
    interval_s: int
    registered_ms: int
    #: when the platform first heard it (None: never)
    first_ms: int | None
    last_ms: int | None
    #: real-time points: those the aggregator has ever computed a value of
    rt_points: int


class AggregateRow(NamedTuple):
    device_id: int
    point_id: int
    start_ms: int
    n_received: int
    n_valid: int
    n_over: int
    over_ms: int
    max: float | None
    upper_limit: float | None


class AlarmTimes(NamedTuple):
    site_id: int
    created_ms: int
    acked_ms: int | None
    closed_ms: int | None
    state: str
    overdue: int


def _region(region: str | None, column: str = "s.region_code") -> tuple[str, list[object]]:
    if region is None:
        return "", []
    prefix = region_prefix(region)
    return f" AND substr({column}, 1, ?) = ?", [len(prefix), prefix]


def regions(db: sqlite3.Connection, scope: Scope) -> list[RegionRow]:
    """The active regions in scope."""
    return [RegionRow(*r) for r in db.execute(*scoped(
        "SELECT r.code, r.name, r.parent_code FROM regions r WHERE {scope} AND r.status = 'active' ORDER BY r.code",
        scope, site_alias="r", over="regions"))]


def sites(db: sqlite3.Connection, scope: Scope, region: str | None) -> list[SiteRow]:
    """Every site in scope (under ``region``), retired ones included: a site retired mid-month
    was due until it was retired."""
    where, args = _region(region)
    return [SiteRow(*r) for r in db.execute(*scoped(
        "SELECT s.id, s.name, s.status, s.region_code, s.enterprise_id, e.name, e.region_code FROM sites s "
        f"JOIN enterprises e ON e.id = s.enterprise_id WHERE {{scope}}{where} ORDER BY s.id", scope, args))]


def status_changes(db: sqlite3.Connection, scope: Scope, region: str | None) -> list[StatusChange]:
    """Every site's status changes, in the order they took effect."""
    where, args = _region(region)
    return [StatusChange(*r) for r in db.execute(*scoped(
        "SELECT c.site_id, c.effective_ms, c.previous, c.status FROM site_status_changes c "
        f"JOIN sites s ON s.id = c.site_id WHERE {{scope}}{where} ORDER BY c.site_id, c.effective_ms, c.id",
        scope, args))]


def devices(db: sqlite3.Connection, scope: Scope, region: str | None) -> list[DeviceRow]:
    """The active devices of the sites in scope, with their real-time points counted."""
    where, args = _region(region)
    return [DeviceRow(*r) for r in db.execute(*scoped(
        "SELECT d.id, d.site_id, d.interval_s, d.registered_ms, a.first_ms, a.last_ms, "
        "(SELECT COUNT(*) FROM points p WHERE p.device_id = d.id "
        "  AND EXISTS (SELECT 1 FROM aggregates g WHERE g.point_id = p.id)) "
        "FROM devices d JOIN sites s ON s.id = d.site_id LEFT JOIN device_activity a ON a.device_id = d.id "
        f"WHERE {{scope}} AND d.status = 'active'{where} ORDER BY d.id", scope, args))]


def aggregate_rows(db: sqlite3.Connection, device_id: int, period: str, start_ms: int, end_ms: int
                   ) -> Iterator[AggregateRow]:
    """One device's ``period`` aggregates (day or month) starting in [start_ms, end_ms), point by
    point (for the rare device whose points reported more than was due: each is capped alone)."""
    sql = ("SELECT p.device_id, g.point_id, g.start_ms, g.n_received, g.n_valid, g.n_over, g.over_ms, "
           "CASE WHEN g.n_over > 0 THEN g.max END, g.upper_limit FROM points p "
           "JOIN aggregates g ON g.point_id = p.id AND g.period = ? AND g.start_ms >= ? AND g.start_ms < ? "
           "WHERE p.device_id = ?")
    return (AggregateRow(*r) for r in db.execute(sql, (period, start_ms, end_ms, device_id)))


class DeviceAggregate(NamedTuple):
    """A device's points' aggregates of one period, added up."""

    device_id: int
    start_ms: int
    n_received: int
    n_valid: int
    n_over: int
    over_ms: int
    #: the most one point received (when it is not above what was due, nothing needs capping)
    most_received: int
    #: the maximum and limit of the point that went furthest beyond its limit (None: none did)
    max: float | None
    upper_limit: float | None


def device_aggregates(db: sqlite3.Connection, scope: Scope, region: str | None, period: str, start_ms: int,
                      end_ms: int) -> Iterator[DeviceAggregate]:
    """The ``period`` aggregates (day or month) of the devices in scope starting in [start_ms,
    end_ms), summed per device and period start inside the query (one index range per point;
    SQLite's bare columns give the max and limit of the row with the highest max / limit)."""
    where, args = _region(region)
    sql, params = scoped(
        "SELECT p.device_id, g.start_ms, SUM(g.n_received), SUM(g.n_valid), SUM(g.n_over), SUM(g.over_ms), "
        "MAX(g.n_received), MAX(CASE WHEN g.n_over > 0 AND g.upper_limit > 0 THEN g.max / g.upper_limit END), "
        "g.max, g.upper_limit "
        "FROM sites s CROSS JOIN devices d ON d.site_id = s.id CROSS JOIN points p ON p.device_id = d.id "
        "CROSS JOIN aggregates g ON g.point_id = p.id AND g.period = ? AND g.start_ms >= ? AND g.start_ms < ? "
        f"WHERE {{scope}} AND d.status = 'active'{where} GROUP BY p.device_id, g.start_ms",
        scope, [period, start_ms, end_ms, *args])
    for d, t, rec, val, over, over_ms, most, ratio, high, limit in db.execute(sql, params):
        yield DeviceAggregate(d, t, rec, val, over, over_ms, most, high if ratio is not None else None,
                              limit if ratio is not None else None)


def last_heard_before(db: sqlite3.Connection, scope: Scope, region: str | None, at_ms: int, online_sql: str
                      ) -> dict[int, int]:
    """For each active device in scope: 1 when it was online at the past moment ``at_ms``, by
    ``online_sql`` (``forewarn.online.online_sql`` over ``h.last_ms`` and ``h.interval_s``),
    its last contact taken as its newest real-time reading at or before ``at_ms`` (one index
    seek per point); where retention has deleted the raw data, the start of its newest minute
    aggregate (kept forever: at most a minute earlier than the contact)."""
    where, args = _region(region)
    sql, params = scoped(
        f"SELECT h.id, {online_sql} FROM (SELECT d.id, d.interval_s, "
        "(SELECT MAX(COALESCE((SELECT r.ts FROM readings_rtd r WHERE r.point_id = p.id AND r.ts <= ? "
        "  ORDER BY r.ts DESC LIMIT 1), (SELECT g.start_ms FROM aggregates g WHERE g.point_id = p.id "
        "  AND g.period = 'minute' AND g.start_ms <= ? ORDER BY g.start_ms DESC LIMIT 1))) "
        "  FROM points p WHERE p.device_id = d.id) AS last_ms "
        "FROM devices d JOIN sites s ON s.id = d.site_id "
        f"WHERE {{scope}} AND d.status = 'active'{where}) h", scope, [at_ms, at_ms, *args])
    return {int(i): int(on) for i, on in db.execute(sql, params)}


def alarm_times(db: sqlite3.Connection, scope: Scope, region: str | None, start_ms: int, end_ms: int
                ) -> list[AlarmTimes]:
    """The alarms of sites in scope raised (recorded) in [start_ms, end_ms)."""
    where, args = _region(region)
    return [AlarmTimes(*r) for r in db.execute(*scoped(
        "SELECT a.site_id, a.created_ms, a.acked_ms, a.closed_ms, a.state, a.overdue FROM alarms a "
        f"JOIN sites s ON s.id = a.site_id WHERE {{scope}} AND a.created_ms >= ? AND a.created_ms < ?{where}",
        scope, [start_ms, end_ms, *args]))]


class OnlineDay(NamedTuple):
    device_id: int
    day_ms: int
    online_ms: int


class FacilityDay(NamedTuple):
    site_id: int
    day_ms: int
    production_ms: int
    treatment_with_ms: int
    fan_ms: int
    purifier_with_ms: int


def online_sums(db: sqlite3.Connection, scope: Scope, region: str | None, start_ms: int, end_ms: int
                ) -> dict[int, tuple[int, int]]:
    """Per device in scope: (online ms, days) over the kept days in [start_ms, end_ms)."""
    where, args = _region(region)
    return {int(d): (int(ms), int(n)) for d, ms, n in db.execute(*scoped(
        "SELECT o.device_id, SUM(o.online_ms), COUNT(*) FROM sites s CROSS JOIN devices d ON d.site_id = s.id "
        "CROSS JOIN device_online_days o ON o.device_id = d.id AND o.day_ms >= ? AND o.day_ms < ? "
        f"WHERE {{scope}}{where} GROUP BY s.id, d.id", scope, [start_ms, end_ms, *args]))}


def facility_sums(db: sqlite3.Connection, scope: Scope, region: str | None, start_ms: int, end_ms: int
                  ) -> dict[int, tuple[int, int, int, int, int]]:
    """Per site in scope: (production, treatment with it, fan, purifier with it, days) over the
    kept days in [start_ms, end_ms)."""
    where, args = _region(region)
    return {int(r[0]): tuple(int(x) for x in r[1:]) for r in db.execute(*scoped(  # type: ignore[misc]
        "SELECT f.site_id, SUM(f.production_ms), SUM(f.treatment_with_ms), SUM(f.fan_ms), SUM(f.purifier_with_ms), "
        "COUNT(*) FROM sites s CROSS JOIN facility_days f ON f.site_id = s.id AND f.day_ms >= ? AND f.day_ms < ? "
        f"WHERE {{scope}}{where} GROUP BY s.id", scope, [start_ms, end_ms, *args]))}


def device_online_days(db: sqlite3.Connection, device_id: int, start_ms: int, end_ms: int) -> dict[int, int]:
    """One device's kept days in [start_ms, end_ms): day -> online ms."""
    return {int(t): int(ms) for t, ms in db.execute(
        "SELECT day_ms, online_ms FROM device_online_days WHERE device_id = ? AND day_ms >= ? AND day_ms < ?",
        (device_id, start_ms, end_ms))}


def site_facility_days(db: sqlite3.Connection, site_id: int, start_ms: int, end_ms: int
                       ) -> dict[int, tuple[int, int, int, int]]:
    """One site's kept days in [start_ms, end_ms): day -> its four running times."""
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in db.execute(
        "SELECT day_ms, production_ms, treatment_with_ms, fan_ms, purifier_with_ms FROM facility_days "
        "WHERE site_id = ? AND day_ms >= ? AND day_ms < ?", (site_id, start_ms, end_ms))}


def online_days(db: sqlite3.Connection, scope: Scope, region: str | None, start_ms: int, end_ms: int
                ) -> list[OnlineDay]:
    """The stored online time (``device_online_days``) of the devices in scope, days in [start_ms, end_ms)."""
    where, args = _region(region)
    return [OnlineDay(*r) for r in db.execute(*scoped(
        "SELECT o.device_id, o.day_ms, o.online_ms FROM device_online_days o JOIN devices d ON d.id = o.device_id "
        f"JOIN sites s ON s.id = d.site_id WHERE {{scope}} AND o.day_ms >= ? AND o.day_ms < ?{where}",
        scope, [start_ms, end_ms, *args]))]


def facility_days(db: sqlite3.Connection, scope: Scope, region: str | None, start_ms: int, end_ms: int
                  ) -> list[FacilityDay]:
    """The stored running times (``facility_days``) of the sites in scope, days in [start_ms, end_ms)."""
    where, args = _region(region)
    return [FacilityDay(*r) for r in db.execute(*scoped(
        "SELECT f.site_id, f.day_ms, f.production_ms, f.treatment_with_ms, f.fan_ms, f.purifier_with_ms "
        f"FROM facility_days f JOIN sites s ON s.id = f.site_id WHERE {{scope}} AND f.day_ms >= ? AND f.day_ms < ?"
        f"{where}", scope, [start_ms, end_ms, *args]))]


# -- the refresh of the per-day times (stats/runtime.py): every device and site, no scope (a job)

def kept_days(db: sqlite3.Connection, table: str, start_ms: int, end_ms: int) -> set[tuple[int, int]]:
    """(device or site id, day) already kept in ``table`` (device_online_days or facility_days)."""
    key = {"device_online_days": "device_id", "facility_days": "site_id"}[table]
    return {(int(i), int(t)) for i, t in db.execute(
        f"SELECT {key}, day_ms FROM {table} WHERE day_ms >= ? AND day_ms < ?", (start_ms, end_ms))}


def points_by_device(db: sqlite3.Connection) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for pid, did in db.execute("SELECT id, device_id FROM points"):
        out.setdefault(int(did), []).append(int(pid))
    return out


def active_devices(db: sqlite3.Connection) -> list[tuple[int, int, int]]:
    """(id, interval_s, registered_ms) of every active device."""
    return [(int(a), int(b), int(c)) for a, b, c in db.execute(
        "SELECT id, interval_s, registered_ms FROM devices WHERE status = 'active' ORDER BY id")]


def live_site_ids(db: sqlite3.Connection) -> list[int]:
    return [int(i) for (i,) in db.execute("SELECT id FROM sites WHERE status != 'retired' ORDER BY id")]


def keep_online_day(db: sqlite3.Connection, device_id: int, day_ms: int, online_ms: int, now_ms: int) -> None:
    db.execute("INSERT OR REPLACE INTO device_online_days (device_id, day_ms, online_ms, computed_ms) "
               "VALUES (?, ?, ?, ?)", (device_id, day_ms, online_ms, now_ms))


def keep_facility_day(db: sqlite3.Connection, site_id: int, day_ms: int, times: tuple[int, int, int, int],
                      now_ms: int) -> None:
    db.execute("INSERT OR REPLACE INTO facility_days (site_id, day_ms, production_ms, treatment_with_ms, fan_ms, "
               "purifier_with_ms, computed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)", (site_id, day_ms, *times, now_ms))
