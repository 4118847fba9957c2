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

import sqlite3
from typing import Literal

import msgspec

from forewarn.access.scope import Scope
from forewarn.config import Settings

__all__ = ["By", "Entity", "FigureRow", "PeriodName", "RankedRow", "figures", "ranking_districts", "ranking_enterprises"]

By = Literal["site", "enterprise", "region"]
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


def figures(db: sqlite3.Connection, scope: Scope, *, by: By, region: str | None, start_ms: int, end_ms: int,
            period: PeriodName, now_ms: int, settings: Settings) -> list[FigureRow]:
    """Each entity's figures for each period of [start_ms, end_ms) (see the module docstring)."""
    raise NotImplementedError  # the contract first; the figures follow


def ranking_districts(rows: list[FigureRow]) -> list[RankedRow]:
    """Regions by effective transmission rate, highest first (undefined last)."""
    raise NotImplementedError


def ranking_enterprises(rows: list[FigureRow]) -> list[RankedRow]:
    """Enterprises by exceedance count, most first."""
    raise NotImplementedError
