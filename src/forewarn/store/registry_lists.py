"""The registry's lists as the API and the dashboard page through them: regions, enterprises,
sites, devices and points, each filtered, in the user's scope, one page at a time.

A list is asked for with a typed filter (one dataclass per entity; ``None`` means "any"); what
comes back is a :class:`Page` of rows as dicts in the column order of the list, with its total.
Callers run these on a reader thread: a count over 10,000 devices must not hold up the devices'
answers. "Online" is the one definition of :mod:`forewarn.online`, at the moment given.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from forewarn.access.scope import Scope, region_prefix, scoped
from forewarn.online import online_sql

__all__ = ["DeviceFilter", "EnterpriseFilter", "Moment", "Page", "PointFilter", "RegionFilter", "SiteFilter",
           "list_devices", "list_enterprises", "list_points", "list_regions", "list_sites"]


@dataclass(frozen=True, slots=True)
class Page:
    columns: list[str]
    items: list[dict[str, Any]]
    total: int


@dataclass(frozen=True, slots=True)
class RegionFilter:
    parent: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class EnterpriseFilter:
    #: a region code: enterprises registered in it or under it
    region: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class SiteFilter:
    region: str | None = None
    enterprise_id: int | None = None
    #: the catalogue's site type id
    site_type: str | None = None
    status: str | None = None
    online: bool | None = None


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    site_id: int | None = None
    region: str | None = None
    mn: str | None = None
    status: str | None = None
    online: bool | None = None


@dataclass(frozen=True, slots=True)
class PointFilter:
    device_id: int | None = None
    site_id: int | None = None
    mn: str | None = None
    discovered: bool | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Moment:
    """When "online" is judged, and after how many missed intervals a device is not."""

    now_ms: int
    offline_after_intervals: float


Filters = list[tuple[str, object]]


def list_regions(db: sqlite3.Connection, scope: Scope, f: RegionFilter, limit: int, offset: int) -> Page:
    return _page(db, scope, "SELECT r.code, r.name, r.parent_code, r.status FROM regions r",
                 _eq("r.parent_code", f.parent) + _eq("r.status", f.status), "r.code", limit, offset,
                 alias="r", over="regions")


def list_enterprises(db: sqlite3.Connection, scope: Scope, f: EnterpriseFilter, limit: int, offset: int) -> Page:
    """``sites`` counts the enterprise's sites that the user may see."""
    in_scope, lead = scope.sites_clause("x")
    sql = ("SELECT e.id, e.name, e.region_code, e.status, "
           f"(SELECT COUNT(*) FROM sites x WHERE x.enterprise_id = e.id AND {in_scope}) AS sites FROM enterprises e")
    return _page(db, scope, sql, _prefix("e.region_code", f.region) + _eq("e.status", f.status), "e.id", limit,
                 offset, alias="e", over="enterprises", lead=lead)


def list_sites(db: sqlite3.Connection, scope: Scope, f: SiteFilter, at: Moment, limit: int, offset: int) -> Page:
    """Whether any of a site's active devices is online now is its ``online``."""
    online = ("EXISTS (SELECT 1 FROM devices x JOIN device_activity ax ON ax.device_id = x.id "
              f"WHERE x.site_id = s.id AND x.status = 'active' AND {_online(at, 'ax.last_ms', 'x.interval_s')})")
    sql = ("SELECT s.id, s.enterprise_id, e.name AS enterprise, s.name, s.site_type, s.region_code, "
           "r.name AS region_name, s.longitude, s.latitude, s.status, "
           "(SELECT COUNT(*) FROM devices x WHERE x.site_id = s.id) AS devices, "
           f"{online} AS online FROM sites s "
           "JOIN enterprises e ON e.id = s.enterprise_id LEFT JOIN regions r ON r.code = s.region_code")
    filters = (_prefix("s.region_code", f.region) + _eq("s.enterprise_id", f.enterprise_id)
               + _eq("s.site_type", f.site_type) + _eq("s.status", f.status) + _is(online, f.online))
    return _page(db, scope, sql, filters, "s.id", limit, offset, booleans=("online",))


def list_devices(db: sqlite3.Connection, scope: Scope, f: DeviceFilter, at: Moment, limit: int, offset: int) -> Page:
    """``quirks_tolerated``: the known HJ 212 deviations accepted from each device and how often
    (``crc_lowercase=12|qn_format=3``, most used first; empty when none)."""
    online = _online(at, "a.last_ms", "d.interval_s")
    sql = ("SELECT d.id, d.mn, d.site_id, s.name AS site, e.name AS enterprise, s.region_code, d.protocol, "
           "d.interval_s, d.leniency, d.device_kind, d.status, d.registered_ms, a.last_ms AS last_seen_ms, "
           f"{online} AS online, "
           "(SELECT group_concat(q.quirk || '=' || q.count, '|') FROM (SELECT quirk, count FROM quirk_usage "
           "WHERE device_id = d.id ORDER BY count DESC, quirk) q) AS quirks_tolerated "
           "FROM devices d JOIN sites s ON s.id = d.site_id JOIN enterprises e ON e.id = s.enterprise_id "
           "LEFT JOIN device_activity a ON a.device_id = d.id")
    filters = (_eq("d.site_id", f.site_id) + _prefix("s.region_code", f.region) + _eq("d.mn", f.mn)
               + _eq("d.status", f.status) + _is(online, f.online))
    return _page(db, scope, sql, filters, "d.id", limit, offset, booleans=("online",))


def list_points(db: sqlite3.Connection, scope: Scope, f: PointFilter, limit: int, offset: int) -> Page:
    """``discovered``: created from data a device sent before anyone registered the point."""
    sql = ("SELECT p.id, p.device_id, d.mn, d.site_id, p.code, p.field, p.name, p.quantity, p.unit, p.lower, "
           "p.upper, p.role, p.discovered, p.status FROM points p JOIN devices d ON d.id = p.device_id "
           "JOIN sites s ON s.id = d.site_id")
    filters = (_eq("p.device_id", f.device_id) + _eq("d.site_id", f.site_id) + _eq("d.mn", f.mn)
               + _eq("p.discovered", None if f.discovered is None else int(f.discovered)) + _eq("p.status", f.status))
    return _page(db, scope, sql, filters, "p.id", limit, offset, booleans=("discovered",))


def _page(db: sqlite3.Connection, scope: Scope, sql: str, filters: Filters, order: str, limit: int, offset: int, *,
          alias: str = "s", over: str = "sites", booleans: tuple[str, ...] = (), lead: list[object] | None = None,
          ) -> Page:
    """One page of a scoped list query with its filters (``(clause, value)``); ``lead``: parameters
    of ``sql`` itself (before its WHERE)."""
    where = "".join(f" AND {clause}" for clause, _ in filters)
    params = [*(lead or []), *(value for _, value in filters)]
    query = scoped(sql + " WHERE {scope}" + where, scope, params, site_alias=alias, over=over)
    total = int(db.execute(f"SELECT COUNT(*) FROM ({query.sql})", query.params).fetchone()[0])
    cur = db.execute(f"{query.sql} ORDER BY {order} LIMIT ? OFFSET ?", [*query.params, limit, offset])
    columns = [c[0] for c in cur.description]
    items = [dict(zip(columns, row, strict=True)) for row in cur]
    for item in items:  # SQLite answers 0/1
        for column in booleans:
            item[column] = bool(item[column])
    return Page(columns, items, total)


def _prefix(column: str, code: str | None) -> Filters:
    if not code:
        return []
    prefix = region_prefix(code)
    return [(f"substr(COALESCE({column}, ''), 1, {len(prefix)}) = ?", prefix)]


def _eq(column: str, value: object | None) -> Filters:
    return [] if value is None or value == "" else [(f"{column} = ?", value)]


def _is(expression: str, wanted: bool | None) -> Filters:
    return [] if wanted is None else [(f"({expression}) = ?", int(wanted))]


def _online(at: Moment, last_ms: str, interval_s: str) -> str:
    return online_sql(last_ms, interval_s, at.now_ms, at.offline_after_intervals)
