"""Incident playback: one answer with everything needed to show a site's state at any instant
of a window, so that a player can run at 3600x in the browser without asking again.

- every point's readings over the window, at one-minute resolution (raw when sparser; denser
  data cut into equal buckets that each keep their minimum and maximum, so peaks survive,
  exactly as the series query does), with the last reading before the window;
- the site's equipment (its composite rules' operands) as ON/OFF bands;
- each device's online intervals, judged from its readings' times with the same window as the
  online rule (``forewarn.online``): the platform keeps no log of packets, only the data;
- the site's alarms whose episode overlaps the window, and every step of them (raised,
  escalated, cleared and each handling step), placed at the data time a rule's decision was
  about, else at the time people took it.

Asked by alarm, the window is chosen around the alarm's episode from the alarm's own times
(first decided, last seen, cleared), never from its evidence: an hour before it was decided
to half an hour after it cleared (or now, while it is active).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from forewarn.access.scope import Scope
from forewarn.model import Kind
from forewarn.rules.limits import Limit
from forewarn.sites.shapes import OnlineInterval, Playback, PlaybackAlarm, PlaybackEvent, PlaybackSeries
from forewarn.sites.timeline import union
from forewarn.sites.view import SiteView, bands, device_state, site_info
from forewarn.store.series import series
from forewarn.store.site_reads import (
    TABLES,
    DeviceRow,
    PointRow,
    alarm_window,
    columns,
    kind_with_data,
    latest_reading,
    runs,
    site_alarms_between,
    site_devices,
    site_points,
    site_row,
    steps_of,
)
from forewarn.times import iso

__all__ = ["MAX_WINDOW_MS", "PlaybackError", "Window", "playback", "window_for_alarm"]

MINUTE_MS = 60_000
DAY_MS = 86_400_000
#: the longest window one answer covers: a month of a site's data
MAX_WINDOW_MS = 31 * DAY_MS
#: at most this many rows per point (a month at minute resolution would be 89,280: buckets widen)
MAX_ROWS_PER_POINT = 6000
#: how much of the data around an alarm's episode its window shows
BEFORE_ALARM_MS = 3600_000
AFTER_ALARM_MS = 1800_000
#: the most alarms one window lists (newest first)
MAX_ALARMS = 500


class PlaybackError(Exception):
    """A window that cannot be played, with what to do instead (an HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Window:
    site_id: int
    from_ms: int
    to_ms: int
    t_ms: int
    alarm_id: int | None = None


def check_window(from_ms: int, to_ms: int) -> None:
    if to_ms <= from_ms:
        raise PlaybackError("from must be before to: swap them")
    if to_ms - from_ms > MAX_WINDOW_MS:
        days = (to_ms - from_ms) / DAY_MS
        raise PlaybackError(f"the window is {days:.1f} days long; a playback covers at most "
                            f"{MAX_WINDOW_MS // DAY_MS} days: shorten it or play it in parts")


def window_for_alarm(db: sqlite3.Connection, scope: Scope, alarm_id: int, now_ms: int,
                     from_ms: int | None = None, to_ms: int | None = None) -> Window | None:
    """The window around an alarm's episode (``from_ms``/``to_ms`` when given replace its ends);
    None when the alarm is not in scope or belongs to no site."""
    found = alarm_window(db, scope, alarm_id)
    if found is None:
        return None
    site_id, alarm = found
    if alarm.condition == "cleared" and alarm.cleared_ts is not None:
        end = max(alarm.cleared_ts, alarm.last_ts)
    else:
        end = max(alarm.last_ts, now_ms)  # still active: up to now
    lo = alarm.first_ts - BEFORE_ALARM_MS if from_ms is None else from_ms
    if to_ms is not None:
        hi = to_ms
    else:  # half an hour after it cleared, but nothing after now; capped at the longest window
        hi = max(min(end + AFTER_ALARM_MS, max(now_ms, end)), alarm.first_ts + MINUTE_MS)
        hi = min(hi, lo + MAX_WINDOW_MS)
    return Window(site_id, lo, hi, min(max(alarm.first_ts, lo), hi), alarm_id)


def resolution_ms(from_ms: int, to_ms: int) -> int:
    """A bucket's width: a minute, wider only when a point would exceed MAX_ROWS_PER_POINT."""
    return max(MINUTE_MS, -(-(to_ms - from_ms) // (MAX_ROWS_PER_POINT // 2)))


def playback(db: sqlite3.Connection, scope: Scope, window: Window, now_ms: int, view: SiteView) -> Playback | None:
    """The window's readings, equipment bands, online intervals and alarm events (None: the
    site is not in ``scope``). Raises :class:`PlaybackError` for a window that is too long."""
    check_window(window.from_ms, window.to_ms)
    row = site_row(db, scope, window.site_id)
    if row is None:
        return None
    lo, hi = window.from_ms, window.to_ms
    rules = view.rules()
    devices = site_devices(db, scope, window.site_id, active_only=False)
    points = site_points(db, scope, window.site_id, active_only=False)
    interval = {d.id: d.interval_s for d in devices}
    step = resolution_ms(lo, hi)
    max_points = 2 * max(1, -(-(hi - lo) // step))
    out_series: list[PlaybackSeries] = []
    kinds: dict[int, Kind] = {}
    for point in points:
        look_back = view.stale_ms(interval.get(point.device_id, 60))
        kind = kind_with_data(db, point.id, lo - look_back, hi)
        if kind is None:
            continue
        kinds[point.id] = kind
        out_series.append(_series(db, point, kind, lo, hi, max_points, view.limits(rules, point, kind)))
    operands = view.operands(rules, points)
    alarms = site_alarms_between(db, scope, window.site_id, lo, hi, MAX_ALARMS)
    events = [PlaybackEvent(alarm_id=s.alarm_id, step=s.step, ts_ms=int(s.ts), at_ms=s.at_ms, actor=s.actor,
                            note=s.note, level=None if s.level is None else int(s.level))
              for s in steps_of(db, [a.id for a in alarms]) if lo <= s.ts <= hi]
    events.sort(key=lambda e: (e.ts_ms, e.at_ms))
    return Playback(
        site=site_info(row, view.catalogue),
        from_ms=lo, to_ms=hi, from_=iso(lo, view.tz), to=iso(hi, view.tz),
        t_ms=window.t_ms, alarm_id=window.alarm_id, resolution_ms=step,
        devices=[device_state(d, now_ms, view) for d in devices],
        series=out_series,
        equipment=operands,
        bands=bands(db, operands, points, devices, lo, min(hi, now_ms), view),
        online=_online(db, devices, points, kinds, lo, min(hi, now_ms), view),
        alarms=[PlaybackAlarm(id=a.id, rule_id=a.rule_id, level=a.level, state=a.state, mn=a.mn, point=a.point,
                              title_zh=a.title_zh, title_en=a.title_en, explanation_zh=a.explanation_zh,
                              explanation_en=a.explanation_en, first_ts_ms=a.first_ts, last_ts_ms=a.last_ts,
                              cleared_ts_ms=a.cleared_ts if a.condition == "cleared" else None)
                for a in alarms],
        events=events,
    )


def _series(db: sqlite3.Connection, point: PointRow, kind: Kind, lo: int, hi: int, max_points: int,
            limits: list[Limit]) -> PlaybackSeries:
    held = int(db.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {TABLES[kind]} WHERE point_id = ? AND ts >= ? "
                          "AND ts <= ? LIMIT ?)", (point.id, lo, hi, max_points + 1)).fetchone()[0])
    if held <= max_points:  # raw: as stored, read as columns
        ts, values, flags = columns(db, kind, point.id, lo, hi)
    else:  # denser than the resolution: each bucket's minimum and maximum, as the series query does
        rows = series(db, point.id, kind, lo, hi, max_points)
        ts, values, flags = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    before = latest_reading(db, point.id, kind, lo - 1)
    return PlaybackSeries(
        point_id=point.id, device_id=point.device_id, mn=point.mn, code=point.code, field=point.field,
        kind=kind.value, name=point.name, quantity=point.quantity, unit=point.unit, role=point.role,
        limits=limits,
        downsampled=held > max_points, ts=ts, values=values, flags=flags, before=before,
    )


def _online(db: sqlite3.Connection, devices: list[DeviceRow], points: list[PointRow], kinds: dict[int, Kind],
            lo: int, hi: int, view: SiteView) -> list[OnlineInterval]:
    """Per device: heard while any of its packets' readings is fresh. One point per kind stands
    for the device's packets of that kind (a packet carries all of a device's points)."""
    out: list[OnlineInterval] = []
    if hi <= lo:
        return out
    for device in devices:
        stand_ins: dict[Kind, int] = {}
        for p in points:
            if p.device_id == device.id and p.id in kinds:
                stand_ins.setdefault(kinds[p.id], p.id)
        stale = view.stale_ms(device.interval_s)
        spans = [(a, b) for kind, pid in stand_ins.items() for a, b, _ in runs(db, kind, pid, lo, hi, stale)]
        out += [OnlineInterval(device_id=device.id, mn=device.mn, from_ms=a, to_ms=b) for a, b in union(spans)]
    return out
