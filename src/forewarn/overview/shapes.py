"""The shapes of the overview (the map, its KPI tiles, the newest alarms), as the API answers them.

msgspec Structs, so that the OpenAPI document describes every field and the dashboard's
overview and control-room pages consume exactly these.
"""

from __future__ import annotations

import msgspec

__all__ = ["AlarmBrief", "Kpis", "LevelCount", "MapConfig", "Overview", "OverviewSite", "RegionChoice",
           "SiteTypeChoice", "Texts"]


class Texts(msgspec.Struct, frozen=True, kw_only=True):
    zh: str
    en: str


class OverviewSite(msgspec.Struct, frozen=True, kw_only=True):
    """One marker on the map."""

    id: int
    name: str
    enterprise: str
    region_code: str | None
    region_name: str | None
    site_type: str
    #: WGS 84 degrees as registered (None: the registry has no position; not drawn)
    lon: float | None
    lat: float | None
    #: the lifecycle status: new, active, maintenance, stopped
    status: str
    #: alarm, stopped, maintenance, offline or normal (forewarn.site_state: precedence in that order)
    state: str
    #: the highest level of the site's unresolved, unsilenced alarms (None unless state is alarm)
    alarm_level: int | None
    devices_online: int
    devices_total: int


class LevelCount(msgspec.Struct, frozen=True, kw_only=True):
    level: int
    count: int


class Kpis(msgspec.Struct, frozen=True, kw_only=True):
    """The overview's tiles, over the sites the region and site-type filters select.

    - **networking rate** (联网率): of the sites expected to report (neither stopped nor in
      maintenance), the share with at least one device the platform has ever heard from;
      None when no site is expected to report.
    - **online rate** (在线率): of the active devices at those sites, the share online now
      (heard within ``offline_after_intervals`` reporting intervals, forewarn.online).
    - **unresolved by level**: alarms still to be handled (firing, acknowledged, dispatched,
      checked), per level, silenced ones included.
    - **exceedances today** (今日超标): alarms raised by a limit rule (threshold or
      count-in-window: a measured value beyond a limit) whose data time is today in the
      platform's time zone, in any state.
    - **not closed** (未办结): alarms not closed yet, resolved ones included.
    - **overdue** (超期): not-closed alarms past ``close_within_s``.
    """

    sites: int
    sites_expected: int
    sites_networked: int
    networking_rate: float | None
    devices_expected: int
    devices_online: int
    online_rate: float | None
    #: sites per state (alarm, stopped, maintenance, offline, normal), every state present
    by_state: dict[str, int]
    unresolved_by_level: list[LevelCount]
    unresolved: int
    exceedances_today: int
    not_closed: int
    overdue: int


class AlarmBrief(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the newest alarms (the same names as the live stream's alarm events)."""

    alarm_id: int
    rule_id: str
    level: int
    state: str
    site_id: int | None
    site: str
    enterprise: str
    region_code: str
    title: Texts
    #: when the platform recorded it (ISO 8601 with offset)
    at: str
    overdue: bool
    escalated: bool
    silenced: bool


class RegionChoice(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    parent_code: str | None
    #: the code's prefix shared by every region under it (451200 -> 4512): region=CODE selects the
    #: sites whose region code starts with it, so a page can narrow a list it holds the same way
    prefix: str


class SiteTypeChoice(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: Texts


class MapConfig(msgspec.Struct, frozen=True, kw_only=True):
    #: a tile URL template ({z}/{x}/{y}) when the deployment has a tile server; None: outlines only
    tile_url: str | None
    #: how many region outlines /api/v1/regions/outlines holds for you (0: draw the sites alone)
    outlines: int


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    """Every site in your scope (as filtered), the KPI tiles and the newest alarms."""

    generated_at: str
    sites: list[OverviewSite]
    kpis: Kpis
    newest_alarms: list[AlarmBrief]
    #: the values the filters take: your regions, the site types of your sites, the states
    regions: list[RegionChoice]
    site_types: list[SiteTypeChoice]
    states: list[str]
    map: MapConfig
