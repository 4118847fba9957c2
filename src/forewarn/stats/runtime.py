"""A day's online time of a device and running times of a site's equipment, from the raw data.

Two figures need time, not counts: the online rate by time (device-time online / device-time
due) and the facility run rate (treatment ON while production ON / production ON; purifier ON
while the fan ON / fan ON). Neither can be had from the aggregates' counts, and reading a
month of minute data for 10,000 devices takes minutes, so each finished local day is computed
once here and kept (``device_online_days``, ``facility_days``: migration 0018); the figures add
up 31 rows per device for a month. A day not kept yet (today, or a day the refresh has not
reached) is computed the same way when asked.

Both use the definitions the rest of the platform uses, not copies of them:

- **online**: ``forewarn.online`` (heard within ``offline_after_intervals`` reporting
  intervals), as the site page's online intervals compute it (``store.site_reads.runs`` with
  the online window, merged over the device's points by ``sites.timeline.union``); a contact
  is a real-time reading (heartbeats leave no trace in the readings);
- **equipment ON**: the composite rules' operands (``rules.limits.site_operands``) and their
  bands (``sites.view.bands``), exactly what the site page and the engine show.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.online import offline_cutoff_ms
from forewarn.sites.timeline import union
from forewarn.sites.view import RulesInForce, SiteView, bands
from forewarn.store import stats_reads
from forewarn.store.site_reads import runs, site_devices, site_points

__all__ = ["FacilityTimes", "catalogue_view", "facility_times", "is_whole_day", "local_day_length", "local_days",
           "local_midnight", "online_ms", "overlap_ms", "refresh_days", "window_ms"]

_ALL = Scope(Role.CITY_ADMIN)


def local_days(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[tuple[int, int]]:
    """The local days [a, b) that [start_ms, end_ms) covers, cut to it."""
    out: list[tuple[int, int]] = []
    day = datetime.fromtimestamp(start_ms / 1000, tz).date()
    while True:
        a = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)
        if a >= end_ms:
            return out
        nxt = day + timedelta(days=1)
        b = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp() * 1000)
        if b > start_ms:
            out.append((max(a, start_ms), min(b, end_ms)))
        day = nxt


def local_midnight(ms: int, tz: ZoneInfo) -> int:
    """The start of the local day holding ``ms``."""
    day = datetime.fromtimestamp(ms / 1000, tz).date()
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def local_day_length(day_ms: int, tz: ZoneInfo) -> int:
    """The length of the local day starting at ``day_ms`` (24 h but where clocks change)."""
    day = datetime.fromtimestamp(day_ms / 1000, tz).date() + timedelta(days=1)
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000) - day_ms


def is_whole_day(start_ms: int, end_ms: int, tz: ZoneInfo) -> bool:
    """Whether [start_ms, end_ms) is one whole local day (the days kept are whole days)."""
    return local_midnight(start_ms, tz) == start_ms and end_ms - start_ms == local_day_length(start_ms, tz)


def window_ms(interval_s: int, factor: float) -> int:
    """How long one contact keeps a device online (``forewarn.online``'s window)."""
    return int(-offline_cutoff_ms(0, interval_s, factor))


def online_ms(db: sqlite3.Connection, point_ids: Iterable[int], interval_s: int, factor: float, start_ms: int,
              end_ms: int) -> int:
    """How long in [start_ms, end_ms) the device of these points was online."""
    stale = window_ms(interval_s, factor)
    spans = [(a, b) for pid in point_ids for a, b, _ in runs(db, Kind.RTD, pid, start_ms, end_ms, stale)]
    return sum(b - a for a, b in union(spans))


def overlap_ms(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> int:
    """The time two sorted lists of disjoint intervals share."""
    total = i = j = 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        total += max(0, b - a)
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


@dataclass(frozen=True, slots=True)
class FacilityTimes:
    """A site's equipment running times over a stretch (ms)."""

    production_ms: int = 0
    treatment_with_ms: int = 0
    fan_ms: int = 0
    purifier_with_ms: int = 0


def facility_times(db: sqlite3.Connection, site_id: int, start_ms: int, end_ms: int, view: SiteView,
                   rules: RulesInForce) -> FacilityTimes:
    """Production ON, treatment ON while production ON, fan ON, purifier ON while the fan ON,
    in [start_ms, end_ms), from the site's equipment bands (no rules: nothing is known)."""
    if rules is None:
        return FacilityTimes()
    points = site_points(db, _ALL, site_id, active_only=True)
    devices = site_devices(db, _ALL, site_id, active_only=True)
    operands = view.operands(rules, points)
    if not operands:
        return FacilityTimes()
    on: dict[str, list[tuple[int, int]]] = {}
    for band in bands(db, operands, points, devices, start_ms, end_ms, view):
        if band.on:
            on.setdefault(band.operand, []).append((band.from_ms, band.to_ms))
    spans = {name: union(v) for name, v in on.items()}

    def total(name: str) -> int:
        return sum(b - a for a, b in spans.get(name, []))

    return FacilityTimes(
        production_ms=total("production"),
        treatment_with_ms=overlap_ms(spans.get("production", []), spans.get("treatment", [])),
        fan_ms=total("fan"), purifier_with_ms=overlap_ms(spans.get("fan", []), spans.get("purifier", [])))


def refresh_days(db: sqlite3.Connection, *, since_ms: int, now_ms: int, view: SiteView, rules: RulesInForce,
                 recompute_after_ms: int | None = None) -> tuple[int, int]:
    """Compute and keep every finished local day since ``since_ms`` not kept yet (and every
    day from ``recompute_after_ms`` again: late data). A writer job (it writes); returns the
    (device-days, site-days) written."""
    tz = view.tz
    midnight = local_midnight(since_ms, tz)
    since_ms = midnight if midnight == since_ms else local_midnight(midnight + 30 * 3_600_000, tz)  # whole days
    days = [(a, b) for a, b in local_days(since_ms, now_ms + 2 * 86_400_000, tz) if b <= now_ms]
    if not days:
        return 0, 0
    lo, hi = days[0][0], days[-1][1]
    redo = recompute_after_ms if recompute_after_ms is not None else hi
    have_online = stats_reads.kept_days(db, "device_online_days", lo, redo)
    have_facility = stats_reads.kept_days(db, "facility_days", lo, redo)
    points_of = stats_reads.points_by_device(db)
    written_d = written_s = 0
    for device_id, interval_s, registered_ms in stats_reads.active_devices(db):
        for a, b in days:
            if (device_id, a) in have_online or b <= registered_ms:
                continue
            ms = online_ms(db, points_of.get(device_id, []), interval_s, view.offline_after_intervals, a, b)
            stats_reads.keep_online_day(db, device_id, a, ms, now_ms)
            written_d += 1
    if rules is not None:
        for site_id in stats_reads.live_site_ids(db):
            for a, b in days:
                if (site_id, a) in have_facility:
                    continue
                f = facility_times(db, site_id, a, b, view, rules)
                stats_reads.keep_facility_day(
                    db, site_id, a, (f.production_ms, f.treatment_with_ms, f.fan_ms, f.purifier_with_ms), now_ms)
                written_s += 1
    return written_d, written_s


def catalogue_view(tz: ZoneInfo, factor: float, catalogue: Catalogue, rules: RulesInForce) -> SiteView:
    """The site view these computations need, for callers outside the web layer (CLI, tests)."""
    return SiteView(tz, factor, catalogue, lambda: rules)
