"""A site's page, as one answer: who and where, its devices and whether each is online, the
newest value of every point against the limits the rules judge it by, its equipment's ON/OFF
bands over a window, and its newest alarms.

The one use case behind ``GET /api/v1/sites/{id}/detail`` and the dashboard's site page; it
reads on whatever connection it is given (a reader thread's, off the event loop).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from forewarn.access.scope import Scope
from forewarn.alarms.api_queries import AlarmFilter, count_alarms, page_alarms
from forewarn.cameras.registry import list_cameras
from forewarn.model import Kind
from forewarn.rules.limits import limit_state
from forewarn.sites.shapes import LiveValue, SiteAlarm, SiteDetail
from forewarn.sites.view import RulesInForce, SiteView, bands, device_state, site_info
from forewarn.store.site_reads import PointRow, kind_with_data, latest_reading, site_devices, site_points, site_row
from forewarn.times import iso

__all__ = ["ALARMS_SHOWN", "site_detail"]

#: the newest alarms a site's page lists (the alarm desk pages through the rest)
ALARMS_SHOWN = 20


def site_detail(db: sqlite3.Connection, scope: Scope, site_id: int, now_ms: int, from_ms: int, to_ms: int,
                view: SiteView, alarms_limit: int = ALARMS_SHOWN) -> SiteDetail | None:
    """The site's page, or None when the site is not in ``scope`` (as if it did not exist).

    ``from_ms``/``to_ms`` is the equipment timeline's window (the caller bounds it).
    """
    row = site_row(db, scope, site_id)
    if row is None:
        return None
    rules = view.rules()
    devices = site_devices(db, scope, site_id, active_only=True)
    points = site_points(db, scope, site_id, active_only=True)
    values = [_value(db, point, rules, view) for point in points]
    operands = view.operands(rules, points)
    flt = AlarmFilter(site_id=site_id)
    alarms = [_alarm(a, view) for a in page_alarms(db, scope, flt, alarms_limit, 0)]
    return SiteDetail(
        site=site_info(row, view.catalogue),
        devices=[device_state(d, now_ms, view) for d in devices],
        values=values,
        equipment=operands,
        bands=bands(db, operands, points, devices, from_ms, min(to_ms, now_ms), view),
        from_ms=from_ms, to_ms=to_ms,
        alarms=alarms, alarms_total=count_alarms(db, scope, flt),
        cameras=list_cameras(db, scope, view.tz, site_id=site_id),
        now_ms=now_ms,
    )


def _value(db: sqlite3.Connection, point: PointRow, rules: RulesInForce, view: SiteView) -> LiveValue:
    kind = kind_with_data(db, point.id)
    reading = None if kind is None else latest_reading(db, point.id, kind)
    shown = kind or Kind.RTD
    limits = view.limits(rules, point, shown)
    ts, value, flag = reading if reading is not None else (None, None, None)
    state, level = limit_state(value, flag, limits)
    return LiveValue(
        point_id=point.id, device_id=point.device_id, mn=point.mn, code=point.code, field=point.field,
        kind=shown.value, name=point.name, quantity=point.quantity, unit=point.unit, role=point.role,
        ts_ms=ts, ts=None if ts is None else iso(ts, view.tz), value=value, flag=flag, limits=limits,
        state=state, level=level,
    )


def _alarm(a: dict[str, Any], view: SiteView) -> SiteAlarm:
    cleared = a["cleared_ts"]
    return SiteAlarm(
        id=int(a["id"]), rule_id=str(a["rule_id"]), level=int(a["level"]), state=str(a["state"]),
        condition=str(a["condition"]), mn=str(a["mn"]), point=str(a["point"]), title_zh=str(a["title_zh"]),
        title_en=str(a["title_en"]), explanation_zh=str(a["explanation_zh"]), explanation_en=str(a["explanation_en"]),
        first_ts_ms=int(a["first_ts"]), first_ts=iso(int(a["first_ts"]), view.tz), last_ts_ms=int(a["last_ts"]),
        cleared_ts_ms=None if cleared is None else int(cleared), overdue=bool(a["overdue"]),
        escalated=bool(a["escalated"]),
    )
