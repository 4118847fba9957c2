"""The figures regulators are assessed on, per site, enterprise or region, per day or month.

Every figure is defined once, here (its words and formula in ``docs/statistics.md``, each with
a worked example that ``tests/integration/test_stats_figures.py`` recomputes through this code):

- **transmission rate** (数据传输率) = records received / records due;
- **validity rate** (数据有效率) = valid records / records received;
- **effective transmission rate** (有效传输率) = transmission rate x validity rate
  (= valid / due), assessed against ``assessment_line`` (90 %, DOMAIN.md §4);
- **networking rate** (联网率) = sites connected / sites that must be connected;
- **online rate** (在线率) by device count (devices online at a moment / devices due) and by
  time (device-time online / device-time due), both with ``forewarn.online``'s definition;
- **exceedances** (超标): count, duration, rate (exceedances / valid values) and the maximum
  multiple of the limit ((max - limit) / limit);
- **alarm handling**: alarms raised, median and mean time to acknowledge and to close, open
  (not closed) and overdue (the alarm desk's own ``alarms.overdue`` flag);
- **facility run rate** (治污设施运行率): time the treatment facility ran while production
  ran / time production ran; and the same for the purifier while the fan ran.

A figure whose denominator is zero is ``None`` (undefined), never 0 or 1: "no device was due"
is not "every device reported". The counts behind each rate are in the row, so a report can
show them and a sum over rows can be recomputed exactly.

The contract other modules code against (reports, the dashboard's statistics page, the API,
the CLI)::

    figures(db, scope, *, by, region, start_ms, end_ms, period, now_ms, settings) -> list[FigureRow]
        by      'site' | 'enterprise' | 'region'
        region  a region code (its sites and those of the regions under it; with by='region'
                one row per region directly under it, plus one for the code itself when sites
                are registered at it); None: everything in scope (by='region': each site's
                own region)
        period  'day' | 'month' | 'year': [start_ms, end_ms) is cut into local days, months or
                years (settings.tz) and each entity gets one row per period, in order
        now_ms  the clock: nothing after it is due, and "online now" is judged at it
    ranking_districts(rows) -> list[RankedRow]      by effective transmission rate, best first
    ranking_enterprises(rows) -> list[RankedRow]    by exceedance count, most first

``db`` is a read connection (call it through ``await read(ctx, ...)`` from a handler); every
read is scoped by ``scope``.
"""

from __future__ import annotations

import re
import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access.scope import Scope, region_prefix
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.online import is_online, online_sql
from forewarn.sites.view import RulesInForce
from forewarn.stats import definitions, runtime
from forewarn.store import stats_reads

__all__ = ["By", "Entity", "FigureRow", "FiguresError", "Grouping", "PeriodName", "RankedRow", "check_region",
           "figures", "figures_by", "parse_window", "periods_of", "ranking_districts", "ranking_enterprises"]

By = Literal["site", "enterprise", "region"]
#: :func:`figures_by`'s groupings: a :data:`By`, or ``all``: one row of every site read (a
#: report's subject: the region asked, its code and name; no row when no site is in scope)
Grouping = Literal["site", "enterprise", "region", "all"]
PeriodName = Literal["day", "month", "year"]


class Entity(msgspec.Struct, frozen=True, kw_only=True):
    """What a row is about."""

    #: site, enterprise or region
    kind: str
    #: a site's or enterprise's id (None for a region)
    id: int | None
    #: a region's GB/T 2260 code; for a site or enterprise, the region it is registered in
    code: str | None
    name: str


class FigureRow(msgspec.Struct, frozen=True, kw_only=True):
    """One entity's figures over one period. Rates are shares (0.9 = 90 %), rounded to 4
    places; None when their denominator is zero. Durations are seconds."""

    entity: Entity
    #: day, month or year
    period: str
    #: the period as people write it: 2026-10-05, 2026-10, 2026 (local time)
    label: str
    start_ms: int
    end_ms: int

    # -- data transmission: records of every point of every device due in the period
    points: int
    records_due: int
    #: capped at due per point: a point reporting twice cannot make up for another's gaps
    records_received: int
    #: flag N and not marked invalid in audit
    records_valid: int
    transmission_rate: float | None
    validity_rate: float | None
    effective_rate: float | None
    #: the line the effective rate is assessed against (settings: stats_assessment_line)
    assessment_line: float
    #: effective_rate >= assessment_line (None when the rate is)
    assessed_pass: bool | None

    # -- networking and online
    sites: int
    #: sites that must be connected: neither new, stopped, in maintenance nor retired
    sites_due: int
    #: of those, sites with a device heard at least once by the end of the period
    sites_connected: int
    networking_rate: float | None
    devices_due: int
    #: devices online at ``online_at_ms`` (the period's end, or now within it)
    devices_online: int
    online_at_ms: int
    online_rate: float | None
    device_s_due: float
    device_s_online: float
    online_time_rate: float | None

    # -- exceedances (valid values beyond the point's limit)
    values_valid: int
    exceedances: int
    exceedance_s: float
    exceedance_rate: float | None
    #: (max - limit) / limit over the period's exceeding points (None: no exceedance)
    max_multiple: float | None

    # -- alarm handling: alarms raised (created) in the period
    alarms: int
    alarms_acknowledged: int
    alarms_closed: int
    alarms_open: int
    alarms_overdue: int
    ack_median_s: float | None
    ack_mean_s: float | None
    close_median_s: float | None
    close_mean_s: float | None

    # -- facility run rate (from the equipment's ON/OFF states, as the composite rules see them)
    production_on_s: float
    treatment_with_production_s: float
    treatment_run_rate: float | None
    fan_on_s: float
    purifier_with_fan_s: float
    purifier_run_rate: float | None


class RankedRow(msgspec.Struct, frozen=True, kw_only=True):
    """A place in a ranking: 1 is best (highest effective rate) or worst (most exceedances)."""

    rank: int
    #: the ranked figure's value (None ranks last)
    value: float | None
    row: FigureRow


@dataclass(slots=True)
class _Acc:
    """The counts behind one row, added up over the row's sites, devices and points."""

    points: int = 0
    due: int = 0
    received: int = 0
    valid: int = 0
    values_valid: int = 0
    over: int = 0
    over_ms: int = 0
    multiple: float | None = None
    sites: int = 0
    sites_due: int = 0
    sites_connected: int = 0
    devices_due: int = 0
    devices_online: int = 0
    device_ms_due: int = 0
    device_ms_online: int = 0
    alarms: int = 0
    acked: int = 0
    closed: int = 0
    open: int = 0
    overdue: int = 0
    ack_s: list[float] = field(default_factory=list)
    close_s: list[float] = field(default_factory=list)
    production_ms: int = 0
    treatment_ms: int = 0
    fan_ms: int = 0
    purifier_ms: int = 0

    def add(self, other: _Acc) -> None:
        """Add another's counts (a site's, into its enterprise's or region's)."""
        self.points += other.points
        self.due += other.due
        self.received += other.received
        self.valid += other.valid
        self.values_valid += other.values_valid
        self.over += other.over
        self.over_ms += other.over_ms
        self.sites += other.sites
        self.sites_due += other.sites_due
        self.sites_connected += other.sites_connected
        self.devices_due += other.devices_due
        self.devices_online += other.devices_online
        self.device_ms_due += other.device_ms_due
        self.device_ms_online += other.device_ms_online
        self.alarms += other.alarms
        self.acked += other.acked
        self.closed += other.closed
        self.open += other.open
        self.overdue += other.overdue
        self.production_ms += other.production_ms
        self.treatment_ms += other.treatment_ms
        self.fan_ms += other.fan_ms
        self.purifier_ms += other.purifier_ms
        if other.multiple is not None and (self.multiple is None or other.multiple > self.multiple):
            self.multiple = other.multiple
        self.ack_s.extend(other.ack_s)
        self.close_s.extend(other.close_s)


#: every count of _Acc that :meth:`_Acc.add` adds (a test checks none is forgotten)
_ADDED = [f for f in _Acc.__dataclass_fields__ if f not in ("multiple", "ack_s", "close_s")]


def periods_of(period: PeriodName, start_ms: int, end_ms: int, tz: ZoneInfo) -> list[tuple[str, int, int]]:
    """[start_ms, end_ms) cut into local days, months or years: (label, start, end), each cut
    to the window (a window starting mid-month gives a partial first month)."""
    out: list[tuple[str, int, int]] = []
    first = datetime.fromtimestamp(start_ms / 1000, tz).date()
    if period == "month":
        first = first.replace(day=1)
    elif period == "year":
        first = first.replace(month=1, day=1)
    while True:
        if period == "day":
            nxt = first + timedelta(days=1)
            label = first.isoformat()
        elif period == "month":
            nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            label = f"{first.year:04d}-{first.month:02d}"
        else:
            nxt = date(first.year + 1, 1, 1)
            label = f"{first.year:04d}"
        a = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp() * 1000)
        b = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp() * 1000)
        if a >= end_ms:
            return out
        if b > start_ms:
            out.append((label, max(a, start_ms), min(b, end_ms)))
        first = nxt


class FiguresError(ValueError):
    """A request the figures cannot answer as asked (the message says what to give instead)."""


_WINDOW = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?\Z")


def parse_window(text: str, tz: ZoneInfo) -> tuple[PeriodName, int, int]:
    """A window as people write it: ``2026-10-05`` (a day), ``2026-10`` (a month), ``2026`` (a
    year), in local time: its length and [start_ms, end_ms)."""
    m = _WINDOW.match(text.strip())
    if m is None:
        raise FiguresError(f"{text!r} is not a day, month or year: write 2026-10-05, 2026-10 or 2026")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        first = date(year, month, day)
    except ValueError:
        raise FiguresError(f"{text!r} is not a date in the calendar") from None
    if year < 1971:
        raise FiguresError(f"{text!r} lies before 1971")
    length: PeriodName = "day" if m[3] else "month" if m[2] else "year"
    start = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp() * 1000)
    return length, start, _next_start(length, first, tz)


def _next_start(length: PeriodName, first: date, tz: ZoneInfo) -> int:
    if length == "day":
        nxt = first + timedelta(days=1)
    elif length == "month":
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    else:
        nxt = date(first.year + 1, 1, 1)
    return int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).timestamp() * 1000)


def check_region(db: sqlite3.Connection, scope: Scope, region: str | None) -> None:
    """A region the user may ask about: one of their regions, or the parent of some that is wholly
    theirs (FiguresError otherwise, naming some)."""
    if region is None:
        return
    rows = stats_reads.regions(db, scope)
    codes = [r.code for r in rows]
    # a parent named by its regions but not registered itself (a city above its districts)
    parents = {r.parent_code for r in rows if r.parent_code and scope.allows_site(r.parent_code, None)}
    if region not in codes and region not in parents:
        shown = ", ".join(codes[:30]) + (f" ... ({len(codes)} in all)" if len(codes) > 30 else "")
        raise FiguresError(f"region={region!r} is none of your regions: use one of {shown or '(none)'}")


def _children(region: str | None, regions: list[stats_reads.RegionRow]) -> list[str]:
    """The regions directly under ``region``: the topmost of those whose code it prefixes (by the
    GB/T 2260 codes, so a sheet that left out a parent code still groups right)."""
    if region is None:
        return []
    top = region_prefix(region)
    under = [(region_prefix(r.code), r.code) for r in regions if r.code != region]
    under = [(p, c) for p, c in under if p.startswith(top) and p != top]
    return [c for p, c in under if not any(q != p and p.startswith(q) for q, _ in under)]


def _group_key(by: Grouping, region: str | None, regions: list[stats_reads.RegionRow]
               ) -> Callable[[stats_reads.SiteRow], tuple[object, Entity]]:
    """Which row a site's counts go to."""
    if by == "all":
        name = next((r.name for r in regions if r.code == region), region or "")
        whole = Entity(kind="region", id=None, code=region, name=name)
        return lambda s: ("all", whole)
    if by == "site":
        return lambda s: (s.id, Entity(kind="site", id=s.id, code=s.region_code, name=s.name))
    if by == "enterprise":
        return lambda s: (s.enterprise_id, Entity(kind="enterprise", id=s.enterprise_id, code=s.enterprise_region,
                                                  name=s.enterprise))
    names = {r.code: r.name for r in regions}
    prefixes = sorted(((region_prefix(c), c) for c in _children(region, regions)), key=lambda p: -len(p[0]))

    def key(s: stats_reads.SiteRow) -> tuple[object, Entity]:
        code = s.region_code or ""
        if region is not None:
            code = next((c for p, c in prefixes if code.startswith(p)), region)
        return code, Entity(kind="region", id=None, code=code or None, name=names.get(code, code))
    return key


def figures(db: sqlite3.Connection, scope: Scope, *, by: By, region: str | None, start_ms: int, end_ms: int,
            period: PeriodName, now_ms: int, settings: Settings, rules: RulesInForce = None,
            catalogue: Catalogue | None = None) -> list[FigureRow]:
    """Each entity's figures for each period of [start_ms, end_ms) (see the module docstring).

    ``rules`` (the engine's rule set and registry view) is needed only to compute the
    facilities' running time of days not kept yet (``stats.runtime``); without it those days
    count nothing.
    """
    return figures_by(db, scope, bys=(by,), region=region, start_ms=start_ms, end_ms=end_ms, period=period,
                      now_ms=now_ms, settings=settings, rules=rules, catalogue=catalogue)[by]


def figures_by(db: sqlite3.Connection, scope: Scope, *, bys: Sequence[Grouping], region: str | None,
               start_ms: int, end_ms: int, period: PeriodName, now_ms: int, settings: Settings,
               rules: RulesInForce = None, catalogue: Catalogue | None = None) -> dict[Grouping, list[FigureRow]]:
    """:func:`figures` for several groupings at once (e.g. a report's own row, its districts and
    its enterprises; the two rankings): the data is read and counted once per site, and each
    grouping adds up the sites' counts (every count adds; the maximum multiple is the maximum).
    ``all`` is one row of every site read (see :data:`Grouping`)."""
    tz = settings.tz
    factor = settings.offline_after_intervals
    line = float(settings.stats_assessment_line)
    cuts = periods_of(period, start_ms, end_ms, tz)
    if not cuts:
        return {b: [] for b in bys}
    starts = [a for _, a, _ in cuts]

    def index(ms: int) -> int:
        return bisect_right(starts, ms) - 1

    regions = stats_reads.regions(db, scope)
    site_rows = stats_reads.sites(db, scope, region)
    site_key: dict[int, object] = {s.id: s.id for s in site_rows}
    entities: dict[object, Entity] = {s.id: Entity(kind="site", id=s.id, code=s.region_code, name=s.name)
                                      for s in site_rows}
    changes: dict[int, list[tuple[int, str | None, str]]] = {}
    for c in stats_reads.status_changes(db, scope, region):
        changes.setdefault(c.site_id, []).append((c.effective_ms, c.previous, c.status))
    due_end = min(end_ms, now_ms)
    spans = {s.id: definitions.due_spans(s.status, changes.get(s.id, []), cuts[0][1], max(due_end, cuts[0][1]))
             for s in site_rows}
    acc: dict[tuple[object, int], _Acc] = {(k, i): _Acc() for k in entities for i in range(len(cuts))}

    # -- sites: due and connected
    devs = stats_reads.devices(db, scope, region)
    first_heard: dict[int, int] = {}
    for d in devs:
        if d.first_ms is not None:
            first_heard[d.site_id] = min(first_heard.get(d.site_id, d.first_ms), d.first_ms)
    for s in site_rows:
        for i, (_, a, b) in enumerate(cuts):
            row = acc[(site_key[s.id], i)]
            if a >= now_ms:
                continue
            row.sites += 1
            if definitions.measure(spans[s.id], a, b) > 0:
                row.sites_due += 1
                heard = first_heard.get(s.id)
                row.sites_connected += heard is not None and heard < min(b, now_ms)

    # -- devices: the time each is due, records due per point, online at the moment
    device_due: dict[tuple[int, int], int] = {}
    for d in devs:
        k = site_key.get(d.site_id)
        if k is None:
            continue
        for i, (_, a, b) in enumerate(cuts):
            lo, hi = max(a, d.registered_ms), min(b, now_ms)
            due_ms = definitions.measure(spans[d.site_id], lo, hi) if hi > lo else 0
            device_due[(d.id, i)] = due_ms
            row = acc[(k, i)]
            per_point = definitions.records_due(due_ms, d.interval_s)
            row.points += max(1, d.rt_points) if due_ms else 0
            row.due += per_point * max(1, d.rt_points)
            row.device_ms_due += due_ms
    dev_by_id = {d.id: d for d in devs}
    for i, (_, a, b) in enumerate(cuts):
        at = min(b, now_ms)
        if at <= a:
            continue
        if at == now_ms:
            online = {d.id: int(is_online(d.last_ms, d.interval_s, now_ms, factor)) for d in devs}
        else:
            online = stats_reads.last_heard_before(db, scope, region, at, online_sql(
                "h.last_ms", "h.interval_s", at, factor))
        for d in devs:
            if d.registered_ms > at or not definitions.covers(spans[d.site_id], at - 1):
                continue
            row = acc[(site_key[d.site_id], i)]
            row.devices_due += 1
            row.devices_online += online.get(d.id, 0)

    # -- records, validity and exceedances from the aggregates (received capped at due per point)
    source = "day" if period == "day" else "month"
    for g in stats_reads.device_aggregates(db, scope, region, source, cuts[0][1], cuts[-1][2]):
        i = index(g.start_ms)
        dev = dev_by_id.get(g.device_id)
        if i < 0 or dev is None:
            continue
        d = dev
        row = acc[(site_key[d.site_id], i)]
        per_point = definitions.records_due(device_due.get((d.id, i), 0), d.interval_s)
        if g.most_received <= per_point:  # no point reported more than was due: the sums are the counts
            row.received += g.n_received
            row.valid += g.n_valid
        else:
            for pg in stats_reads.aggregate_rows(db, d.id, source, g.start_ms, g.start_ms + 1):
                received = min(pg.n_received, per_point)
                row.received += received
                row.valid += min(pg.n_valid, received)
        row.values_valid += g.n_valid
        row.over += g.n_over
        row.over_ms += g.over_ms
        m = definitions.max_multiple(g.max, g.upper_limit)
        if m is not None and (row.multiple is None or m > row.multiple):
            row.multiple = m

    # -- online time: the kept days, and the days not kept yet computed now
    _online_time(db, scope, region, cuts, devs, device_due, site_key, acc, now_ms, factor, tz)

    # -- alarm handling
    for al in stats_reads.alarm_times(db, scope, region, cuts[0][1], cuts[-1][2]):
        k = site_key.get(al.site_id)
        i = index(al.created_ms)
        if k is None or i < 0:
            continue
        row = acc[(k, i)]
        row.alarms += 1
        if al.acked_ms is not None:
            row.acked += 1
            row.ack_s.append((al.acked_ms - al.created_ms) / 1000)
        if al.closed_ms is not None and al.state == "closed":
            row.closed += 1
            row.close_s.append((al.closed_ms - al.created_ms) / 1000)
        else:
            row.open += 1
        row.overdue += al.overdue

    # -- facility run rate
    _facilities(db, scope, region, cuts, site_rows, site_key, acc, now_ms, settings, rules, catalogue)

    out: dict[Grouping, list[FigureRow]] = {}
    for by in bys:
        if by == "site":  # the counts are the sites' own
            out[by] = [_row(entities[k], period, label, a, b, acc[(k, i)], line, min(b, now_ms))
                       for k in sorted(entities, key=lambda k: (entities[k].code or "", entities[k].name, k))
                       for i, (label, a, b) in enumerate(cuts)]
            continue
        key_of = _group_key(by, region, regions)
        groups: dict[object, Entity] = {}
        summed: dict[tuple[object, int], _Acc] = {}
        for srow in site_rows:
            k, ent = key_of(srow)
            groups.setdefault(k, ent)
            for i in range(len(cuts)):
                target = summed.get((k, i))
                if target is None:
                    summed[(k, i)] = target = _Acc()
                target.add(acc[(srow.id, i)])
        out[by] = [_row(ent, period, label, a, b, summed[(k, i)], line, min(b, now_ms))
                   for k, ent in sorted(groups.items(), key=lambda e: (e[1].code or "", e[1].name, str(e[0])))
                   for i, (label, a, b) in enumerate(cuts)]
    return out


def _online_time(db: sqlite3.Connection, scope: Scope, region: str | None, cuts: list[tuple[str, int, int]],
                 devs: list[stats_reads.DeviceRow], device_due: dict[tuple[int, int], int],
                 site_key: dict[int, object], acc: dict[tuple[object, int], _Acc], now_ms: int, factor: float,
                 tz: ZoneInfo) -> None:
    """Each device's online time in each period: the kept whole days summed by the store, and
    the days not kept (today, a period's cut edge, a day the refresh has not reached) computed
    from the readings; never more than the time it was due."""
    days = _days(cuts, now_ms, tz)
    points: dict[int, list[int]] | None = None
    for i, (_, a, b) in enumerate(cuts):
        sums = stats_reads.online_sums(db, scope, region, a, b)
        whole = [(x, y) for x, y, w in days[i] if w]
        whole_ends = [y for _, y in whole]  # in order: the days after a registration are a tail
        partial = [(x, y) for x, y, w in days[i] if not w]
        for d in devs:
            due = device_due.get((d.id, i), 0)
            if not due:
                continue
            # the days the refresh keeps: those ending after the device was registered
            expected = len(whole) - bisect_right(whole_ends, d.registered_ms)
            total, count = sums.get(d.id, (0, 0))
            missing = list(partial)
            if count < expected:
                kept = stats_reads.device_online_days(db, d.id, a, b)
                missing += [(x, y) for x, y in whole if y > d.registered_ms and x not in kept]
            if missing:
                if points is None:
                    points = stats_reads.points_by_device(db)
                total += sum(runtime.online_ms(db, points.get(d.id, []), d.interval_s, factor, x, y)
                             for x, y in missing)
            acc[(site_key[d.site_id], i)].device_ms_online += min(total, due)


def _days(cuts: list[tuple[str, int, int]], now_ms: int, tz: ZoneInfo) -> list[list[tuple[int, int, bool]]]:
    """Each period's local days up to now: (start, end, whole day?). Only whole days are kept."""
    return [[(x, y, runtime.is_whole_day(x, y, tz)) for x, y in runtime.local_days(a, min(b, now_ms), tz)]
            for _, a, b in cuts]


def _facilities(db: sqlite3.Connection, scope: Scope, region: str | None, cuts: list[tuple[str, int, int]],
                site_rows: list[stats_reads.SiteRow], site_key: dict[int, object],
                acc: dict[tuple[object, int], _Acc], now_ms: int, settings: Settings, rules: RulesInForce,
                catalogue: Catalogue | None) -> None:
    """Each site's equipment running times in each period: kept days summed by the store, the
    days not kept computed from the readings when the rules in force are given."""
    view = None
    if rules is not None and catalogue is not None:
        view = runtime.catalogue_view(settings.tz, settings.offline_after_intervals, catalogue, rules)
    days = _days(cuts, now_ms, settings.tz)
    for i, (_, a, b) in enumerate(cuts):
        sums = stats_reads.facility_sums(db, scope, region, a, b)
        whole = [(x, y) for x, y, w in days[i] if w]
        partial = [(x, y) for x, y, w in days[i] if not w]
        for s in site_rows:
            row = acc[(site_key[s.id], i)]
            prod, treat, fan, purifier, count = sums.get(s.id, (0, 0, 0, 0, 0))
            if view is not None:
                missing = list(partial)
                if count < len(whole):
                    kept = stats_reads.site_facility_days(db, s.id, a, b)
                    missing += [(x, y) for x, y in whole if x not in kept]
                for x, y in missing:
                    t = runtime.facility_times(db, s.id, x, y, view, rules)
                    prod, treat = prod + t.production_ms, treat + t.treatment_with_ms
                    fan, purifier = fan + t.fan_ms, purifier + t.purifier_with_ms
            row.production_ms += prod
            row.treatment_ms += treat
            row.fan_ms += fan
            row.purifier_ms += purifier


def _row(ent: Entity, period: str, label: str, a: int, b: int, c: _Acc, line: float, online_at: int) -> FigureRow:
    rate = definitions.rate
    effective = rate(c.valid, c.due)
    return FigureRow(
        entity=ent, period=period, label=label, start_ms=a, end_ms=b,
        points=c.points, records_due=c.due, records_received=c.received, records_valid=c.valid,
        transmission_rate=rate(c.received, c.due), validity_rate=rate(c.valid, c.received), effective_rate=effective,
        assessment_line=line, assessed_pass=None if effective is None else effective >= line,
        sites=c.sites, sites_due=c.sites_due, sites_connected=c.sites_connected,
        networking_rate=rate(c.sites_connected, c.sites_due), devices_due=c.devices_due,
        devices_online=c.devices_online, online_at_ms=online_at, online_rate=rate(c.devices_online, c.devices_due),
        device_s_due=c.device_ms_due / 1000, device_s_online=c.device_ms_online / 1000,
        online_time_rate=rate(c.device_ms_online, c.device_ms_due),
        values_valid=c.values_valid, exceedances=c.over, exceedance_s=c.over_ms / 1000,
        exceedance_rate=rate(c.over, c.values_valid), max_multiple=c.multiple,
        alarms=c.alarms, alarms_acknowledged=c.acked, alarms_closed=c.closed, alarms_open=c.open,
        alarms_overdue=c.overdue, ack_median_s=definitions.med(c.ack_s), ack_mean_s=definitions.mean(c.ack_s),
        close_median_s=definitions.med(c.close_s), close_mean_s=definitions.mean(c.close_s),
        production_on_s=c.production_ms / 1000, treatment_with_production_s=c.treatment_ms / 1000,
        treatment_run_rate=rate(c.treatment_ms, c.production_ms), fan_on_s=c.fan_ms / 1000,
        purifier_with_fan_s=c.purifier_ms / 1000, purifier_run_rate=rate(c.purifier_ms, c.fan_ms))


def _ranked(rows: list[FigureRow], value: Callable[[FigureRow], float | None], highest_first: bool
            ) -> list[RankedRow]:
    known = sorted((r for r in rows if value(r) is not None), key=lambda r: (value(r) or 0.0), reverse=highest_first)
    unknown = [r for r in rows if value(r) is None]
    out: list[RankedRow] = []
    for r in known:
        v = value(r)
        rank = out[-1].rank if out and out[-1].value == v else len(out) + 1  # ties share a place
        out.append(RankedRow(rank=rank, value=v, row=r))
    out += [RankedRow(rank=len(known) + 1, value=None, row=r) for r in unknown]
    return out


def ranking_districts(rows: list[FigureRow]) -> list[RankedRow]:
    """Regions (rows of ``figures(by='region')``) by effective transmission rate, highest
    first; equal rates share a place; undefined rates last."""
    return _ranked(rows, lambda r: r.effective_rate, True)


def ranking_enterprises(rows: list[FigureRow]) -> list[RankedRow]:
    """Enterprises (rows of ``figures(by='enterprise')``) by exceedance count, most first;
    equal counts share a place."""
    return _ranked(rows, lambda r: float(r.exceedances), True)
