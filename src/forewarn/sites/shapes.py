"""The shapes of a site's page and of its playback, as the API answers them.

msgspec Structs, so that the OpenAPI document describes every field and the dashboard's pages
consume exactly these. Times are epoch milliseconds (``*_ms``: what a chart and a playback clock
compute with), with ISO 8601 beside them where a person reads one time (last contact, a
window's ends). Series are columns (``ts``, ``values``, ``flags``), not a Struct per reading:
a day of 30 points is 43,200 readings, and columns keep that answer small and fast to build.
"""

from __future__ import annotations

import msgspec

from forewarn.cameras.registry import Camera  # the site's cameras as the camera registry answers them
from forewarn.rules.limits import Limit, Operand

__all__ = ["Band", "Camera", "DeviceState", "LiveValue", "OnlineInterval", "Playback", "PlaybackAlarm",
           "PlaybackEvent", "PlaybackSeries", "Region", "SiteAlarm", "SiteDetail", "SiteInfo"]


class Region(msgspec.Struct, frozen=True, kw_only=True):
    code: str | None
    name: str | None
    #: the region above it (a district's city), for the address line
    parent_name: str | None


class SiteInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Who and where: what the page's header and the map marker show."""

    id: int
    name: str
    enterprise_id: int
    enterprise: str
    site_type: str
    site_type_zh: str
    site_type_en: str
    #: new, active, maintenance, stopped, retired
    status: str
    region: Region
    #: the registry holds no street address yet: the region path (city, district), as people write it
    address: str
    longitude: float | None
    latitude: float | None


class DeviceState(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    mn: str
    protocol: str
    device_kind: str
    interval_s: int
    status: str
    #: when the platform last heard the device (any packet), None when never
    last_contact_ms: int | None
    last_contact: str | None
    #: heard within ``offline_after_intervals`` reporting intervals (forewarn.online.is_online)
    online: bool


class LiveValue(msgspec.Struct, frozen=True, kw_only=True):
    """A point's newest reading, its limits in force and where the reading stands against them."""

    point_id: int
    device_id: int
    mn: str
    code: str
    field: str
    #: the reading kind shown (rtd unless the point reports only status, minute ... data)
    kind: str
    name: str
    quantity: str
    unit: str
    role: str
    ts_ms: int | None
    ts: str | None
    value: float | None
    flag: str | None
    limits: list[Limit]
    #: normal, over_limit, no_limit, no_data, not_valid (flagged other than N)
    state: str
    #: the highest level whose limit the value is beyond (0: none)
    level: int


class Band(msgspec.Struct, frozen=True, kw_only=True):
    """One equipment's state over [from_ms, to_ms): on or off (no band: not known, no data)."""

    operand: str
    on: bool
    from_ms: int
    to_ms: int


class SiteAlarm(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    rule_id: str
    level: int
    #: handling state: firing, acknowledged, dispatched, checked, resolved, closed
    state: str
    #: active or cleared (the data's condition, apart from handling)
    condition: str
    mn: str
    point: str
    title_zh: str
    title_en: str
    explanation_zh: str
    explanation_en: str
    first_ts_ms: int
    first_ts: str
    last_ts_ms: int
    cleared_ts_ms: int | None
    overdue: bool
    escalated: bool


class SiteDetail(msgspec.Struct, frozen=True, kw_only=True):
    site: SiteInfo
    devices: list[DeviceState]
    values: list[LiveValue]
    #: the site's equipment as its composite rules define it, and its bands over the window
    equipment: list[Operand]
    bands: list[Band]
    #: the equipment timeline's window
    from_ms: int
    to_ms: int
    #: the newest alarms of the site (at most ``alarms_limit``), and how many it has in all
    alarms: list[SiteAlarm]
    alarms_total: int
    cameras: list[Camera]
    now_ms: int


class PlaybackSeries(msgspec.Struct, frozen=True, kw_only=True):
    """One point's readings over the window, as columns; downsampled (min and max of each
    bucket, so peaks survive) only when it holds more than two readings per bucket."""

    point_id: int
    device_id: int
    mn: str
    code: str
    field: str
    kind: str
    name: str
    quantity: str
    unit: str
    role: str
    limits: list[Limit]
    downsampled: bool
    ts: list[int]
    values: list[float | None]
    flags: list[str]
    #: the last reading before the window (ts, value, flag), so the value at its start is known
    before: tuple[int, float | None, str] | None


class OnlineInterval(msgspec.Struct, frozen=True, kw_only=True):
    """A device was online over [from_ms, to_ms) (judged from its readings' times; outside: offline)."""

    device_id: int
    mn: str
    from_ms: int
    to_ms: int


class PlaybackAlarm(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    rule_id: str
    level: int
    state: str
    mn: str
    point: str
    title_zh: str
    title_en: str
    explanation_zh: str
    explanation_en: str
    #: the episode: decided at first_ts_ms, cleared at cleared_ts_ms (None: still active)
    first_ts_ms: int
    last_ts_ms: int
    cleared_ts_ms: int | None


class PlaybackEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One alarm step on the timeline: raised (fired), escalated, cleared, and the handling steps."""

    alarm_id: int
    step: str
    #: where it sits on the timeline: the data time a rule's decision was about, else when it was taken
    ts_ms: int
    at_ms: int
    actor: str
    note: str
    level: int | None


class Playback(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to show the site's state at any instant of [from_ms, to_ms]."""

    site: SiteInfo
    from_ms: int
    to_ms: int
    #: ISO 8601 of the window's ends, in the platform's zone
    from_: str = msgspec.field(name="from")
    to: str
    #: the instant to start at: the alarm's first data time when asked by alarm, else the window's start
    t_ms: int
    #: the alarm the window was chosen around (None: asked by site)
    alarm_id: int | None
    #: a bucket's width when a series is downsampled (a minute for windows up to a day or so)
    resolution_ms: int
    devices: list[DeviceState]
    series: list[PlaybackSeries]
    equipment: list[Operand]
    bands: list[Band]
    online: list[OnlineInterval]
    alarms: list[PlaybackAlarm]
    events: list[PlaybackEvent]
