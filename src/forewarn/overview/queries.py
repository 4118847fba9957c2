"""The overview, read once for every client: the map's sites with their state, the KPI tiles,
the newest alarms. The API (``GET /api/v1/dashboard/overview``), the dashboard's overview and
control-room pages and ``forewarn bench overview`` all call :func:`read_overview`.

Five queries, each one pass over an index, whatever the number of sites: the sites; their
devices' counts grouped by site (online judged inside the query by ``forewarn.online``); their
unresolved alarms' highest level grouped by site; the not-closed alarms' counts grouped by
level, state and flags; the newest alarms. Everything else (the state of each site, the
rates) is arithmetic on those rows. With 10,000 sites it runs in tens of milliseconds, on a
reader thread (``web/reads.py``), never on the loop that answers devices.

Every query carries the user's :class:`Scope` (``scoped()``): a site outside it is not there.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from forewarn.access.scope import Scope, region_prefix, scoped
from forewarn.catalogue import Catalogue
from forewarn.online import online_sql
from forewarn.overview.shapes import (
    AlarmBrief,
    Kpis,
    LevelCount,
    MapConfig,
    Overview,
    OverviewSite,
    RegionChoice,
    SiteTypeChoice,
    Texts,
)
from forewarn.site_state import UNRESOLVED, SiteState, site_state
from forewarn.stats.definitions import SITE_STATUSES_DUE
from forewarn.times import iso

__all__ = ["EXCEEDANCE_KINDS", "NEWEST_ALARMS", "OverviewError", "OverviewFilter", "read_overview"]

#: rule kinds whose alarms are exceedances (超标): a measured value beyond a limit. Data-quality
#: rules (flat line, no data, range ...) and composite rules (treatment off) are not.
EXCEEDANCE_KINDS = ("threshold", "count_in_window")
NEWEST_ALARMS = 20
_SHOWN_STATES = [s.value for s in SiteState]
_IN_UNRESOLVED = "(" + ", ".join(f"'{s}'" for s in UNRESOLVED) + ")"
_IN_EXCEEDANCE = "(" + ", ".join(f"'{k}'" for k in EXCEEDANCE_KINDS) + ")"


class OverviewError(ValueError):
    """A filter value that names nothing (the detail says which values are allowed)."""


@dataclass(frozen=True, slots=True)
class OverviewFilter:
    """What the map is narrowed to (None: everything in scope)."""

    region: str | None = None
    site_type: str | None = None
    state: str | None = None

    def sites_where(self) -> tuple[str, list[object]]:
        """SQL conditions over ``s`` (after ``WHERE {scope}``): region and site type. The state
        is a result of the reads, so it is applied afterwards."""
        sql, args = "", []
        if self.region is not None:
            prefix = region_prefix(self.region)
            sql += " AND substr(s.region_code, 1, ?) = ?"
            args += [len(prefix), prefix]
        if self.site_type is not None:
            sql += " AND s.site_type = ?"
            args.append(self.site_type)
        return sql, args


def _check(flt: OverviewFilter, regions: list[RegionChoice], catalogue: Catalogue) -> None:
    if flt.state is not None and flt.state not in _SHOWN_STATES:
        raise OverviewError(f"state={flt.state!r}: use one of {', '.join(_SHOWN_STATES)}")
    if flt.site_type is not None and flt.site_type not in catalogue.site_types:
        raise OverviewError(f"site_type={flt.site_type!r}: use one of {', '.join(catalogue.site_types)}")
    if flt.region is not None and flt.region not in {r.code for r in regions}:
        codes = [r.code for r in regions]
        shown = ", ".join(codes[:30]) + (f" ... ({len(codes)} in all)" if len(codes) > 30 else "")
        raise OverviewError(f"region={flt.region!r} is none of your regions: use one of {shown or '(none)'}")


def read_overview(db: sqlite3.Connection, scope: Scope, flt: OverviewFilter, *, now_ms: int, tz: ZoneInfo,
                  offline_after_intervals: float, catalogue: Catalogue, tile_url: str = "") -> Overview:
    """The overview of ``scope`` as ``flt`` narrows it, at ``now_ms`` (raises OverviewError for
    a filter value that names nothing)."""
    regions = [RegionChoice(code=c, name=n, parent_code=p, prefix=region_prefix(c)) for c, n, p in db.execute(*scoped(
        "SELECT r.code, r.name, r.parent_code FROM regions r WHERE {scope} AND r.status = 'active' ORDER BY r.code",
        scope, site_alias="r", over="regions"))]
    _check(flt, regions, catalogue)
    where, args = flt.sites_where()

    online = online_sql("a.last_ms", "d.interval_s", now_ms, offline_after_intervals)
    devices: dict[int, tuple[int, int, int]] = {
        site_id: (int(total), int(on), int(heard)) for site_id, total, on, heard in db.execute(*scoped(
            f"SELECT d.site_id, COUNT(*), SUM({online}), SUM(a.last_ms IS NOT NULL) FROM devices d "
            "JOIN sites s ON s.id = d.site_id LEFT JOIN device_activity a ON a.device_id = d.id "
            f"WHERE {{scope}} AND d.status = 'active' AND s.status != 'retired'{where} GROUP BY d.site_id",
            scope, args))
    }
    alarm_level: dict[int, int] = dict(db.execute(*scoped(
        "SELECT a.site_id, MAX(a.level) FROM alarms a JOIN sites s ON s.id = a.site_id "
        f"WHERE {{scope}} AND a.state IN {_IN_UNRESOLVED} AND a.silenced = 0{where} GROUP BY a.site_id",
        scope, args)).fetchall())

    sites: list[OverviewSite] = []
    by_state = dict.fromkeys(_SHOWN_STATES, 0)
    expected = networked = devices_expected = devices_online = 0
    for (site_id, name, enterprise, region_code, region_name, site_type, lon, lat, status) in db.execute(*scoped(
            "SELECT s.id, s.name, e.name, s.region_code, r.name, s.site_type, s.longitude, s.latitude, s.status "
            "FROM sites s JOIN enterprises e ON e.id = s.enterprise_id LEFT JOIN regions r ON r.code = s.region_code "
            f"WHERE {{scope}} AND s.status != 'retired'{where} ORDER BY s.id", scope, args)):
        total, on, heard = devices.get(site_id, (0, 0, 0))
        level = alarm_level.get(site_id)
        state = site_state(status, level, on)
        by_state[state] += 1
        if status in SITE_STATUSES_DUE:  # expected to report: the figures' own definition
            expected += 1
            networked += heard > 0
            devices_expected += total
            devices_online += on
        if flt.state is not None and state != flt.state:
            continue
        sites.append(OverviewSite(
            id=site_id, name=name, enterprise=enterprise, region_code=region_code, region_name=region_name,
            site_type=site_type, lon=lon, lat=lat, status=status, state=state.value,
            alarm_level=level if state is SiteState.ALARM else None, devices_online=on, devices_total=total))

    # alarms: LEFT JOIN, so that platform-wide alarms (no site) count for those who see everything
    unresolved: dict[int, int] = {}
    not_closed = overdue = 0
    for level, state_, is_overdue, count in db.execute(*scoped(
            "SELECT a.level, a.state, a.overdue, COUNT(*) FROM alarms a LEFT JOIN sites s ON s.id = a.site_id "
            f"WHERE {{scope}} AND a.state != 'closed'{where} GROUP BY a.level, a.state, a.overdue", scope, args)):
        not_closed += count
        overdue += count if is_overdue else 0
        if state_ in UNRESOLVED:
            unresolved[level] = unresolved.get(level, 0) + count
    midnight = int(datetime.fromtimestamp(now_ms / 1000, tz).replace(
        hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    (exceedances,) = db.execute(*scoped(
        "SELECT COUNT(*) FROM alarms a LEFT JOIN sites s ON s.id = a.site_id JOIN rule_versions v "
        "ON v.rule_id = a.rule_id AND v.version = a.rule_version "
        f"WHERE {{scope}} AND a.first_ts >= ? AND json_extract(v.body, '$.kind') IN {_IN_EXCEEDANCE}{where}",
        scope, [midnight, *args])).fetchone()
    newest = [
        AlarmBrief(alarm_id=i, rule_id=rule, level=lvl, state=st, site_id=sid, site=site, enterprise=ent,
                   region_code=reg, title=Texts(zh=tzh, en=ten), at=iso(created, tz), overdue=bool(od),
                   escalated=bool(esc), silenced=bool(sil))
        for i, rule, lvl, st, sid, site, ent, reg, tzh, ten, created, od, esc, sil in db.execute(*scoped(
            "SELECT a.id, a.rule_id, a.level, a.state, a.site_id, a.site, a.enterprise, a.region_code, a.title_zh, "
            "a.title_en, a.created_ms, a.overdue, a.escalated, a.silenced FROM alarms a "
            f"LEFT JOIN sites s ON s.id = a.site_id WHERE {{scope}}{where} ORDER BY a.id DESC LIMIT ?",
            scope, [*args, NEWEST_ALARMS]))
    ]
    kpis = Kpis(
        sites=sum(by_state.values()), sites_expected=expected, sites_networked=networked,
        networking_rate=_rate(networked, expected), devices_expected=devices_expected,
        devices_online=devices_online, online_rate=_rate(devices_online, devices_expected), by_state=by_state,
        unresolved_by_level=[LevelCount(level=lv, count=n) for lv, n in sorted(unresolved.items())],
        unresolved=sum(unresolved.values()), exceedances_today=int(exceedances), not_closed=not_closed,
        overdue=overdue)
    (outlines,) = db.execute(*scoped(
        "SELECT COUNT(*) FROM region_outlines o JOIN regions r ON r.code = o.region_code WHERE {scope}",
        scope, site_alias="r", over="regions")).fetchone()
    present = {t for (t,) in db.execute(*scoped(
        "SELECT DISTINCT s.site_type FROM sites s WHERE {scope} AND s.status != 'retired'", scope))}
    types = [SiteTypeChoice(id=t.id, name=Texts(zh=t.name_zh, en=t.name_en))
             for t in catalogue.site_types.values() if t.id in present]
    return Overview(generated_at=iso(now_ms, tz), sites=sites, kpis=kpis, newest_alarms=newest, regions=regions,
                    site_types=types, states=_SHOWN_STATES,
                    map=MapConfig(tile_url=tile_url or None, outlines=int(outlines)))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
