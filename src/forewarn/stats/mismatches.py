"""Device-reported minute, hour and day values that disagree with forewarn's own, listed once for
the API, the CLI and the dashboard.

Why: devices compute their own Avg/Min/Max (CN 2051/2061/2031) and regulators are shown both;
a device whose hour means drift from what its own real-time data gives is miscomputing, has a
wrong clock, or reports something else than it sends live. The tolerance is a setting
(``mismatch_relative`` and ``mismatch_absolute``).
"""

from __future__ import annotations

import sqlite3
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access.scope import Scope
from forewarn.model import Period
from forewarn.store import aggregates
from forewarn.times import iso

__all__ = ["MismatchView", "list_mismatches"]


class MismatchView(msgspec.Struct, frozen=True, kw_only=True):
    """One period where a device's own value and forewarn's differ beyond the tolerance."""

    mn: str
    device_id: int
    code: str
    #: the device's sub-field compared: Avg, Min or Max
    field: str
    period: Period
    #: the period's start (local ISO 8601, and epoch ms)
    start: str
    start_ms: int
    reported: float
    computed: float
    #: reported - computed
    difference: float
    #: forewarn's point (the factor's Rtd) the computed value is of
    point_id: int


def list_mismatches(db: sqlite3.Connection, scope: Scope, tz: ZoneInfo, period: Period, start_ms: int, end_ms: int,
                    *, relative: float, absolute: float, site_id: int | None = None,
                    limit: int = 1000) -> list[MismatchView]:
    """The mismatches in [start_ms, end_ms) within the user's scope, oldest first."""
    return [
        MismatchView(mn=m.mn, device_id=m.device_id, code=m.code, field=m.field, period=m.period,
                     start=iso(m.start_ms, tz), start_ms=m.start_ms, reported=m.reported, computed=m.computed,
                     difference=m.reported - m.computed, point_id=m.point_id)
        for m in aggregates.mismatches(db, scope, period, start_ms, end_ms, relative=relative, absolute=absolute,
                                       site_id=site_id, limit=limit)
    ]
