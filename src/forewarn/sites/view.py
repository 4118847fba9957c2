"""What a site's page and its playback both start from: the platform's settings they depend on,
the site's header, its devices with their online state, and its equipment's bands."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.online import is_online, offline_cutoff_ms
from forewarn.rules.catalog import RuleCatalog
from forewarn.rules.limits import Limit, Operand, OperandPoint, point_limits, site_operands
from forewarn.rules.model import RuleSet
from forewarn.sites.shapes import Band, DeviceState, Region, SiteInfo
from forewarn.sites.timeline import any_on
from forewarn.store.site_reads import DeviceRow, PointRow, SiteRow, runs
from forewarn.times import iso

__all__ = ["RulesInForce", "SiteView", "bands", "device_state", "site_info"]

#: the engine's rule set and registry view (None: rules are off, so no limits and no equipment)
RulesInForce = tuple[RuleSet, RuleCatalog] | None


@dataclass(frozen=True, slots=True)
class SiteView:
    """What the site's use cases need of the platform (the API, the CLI and tests build one)."""

    tz: ZoneInfo
    offline_after_intervals: float
    catalogue: Catalogue
    #: asked on each use: the rules in force change when their files or the registry change
    rules: Callable[[], RulesInForce]

    def stale_ms(self, interval_s: int) -> int:
        """How long a device's reading counts as current: the online rule's window."""
        return int(-offline_cutoff_ms(0, interval_s, self.offline_after_intervals))

    def limits(self, rules: RulesInForce, point: PointRow, kind: Kind) -> list[Limit]:
        if rules is None:
            return []
        return point_limits(rules[0], rules[1], point.device_id, point.code, point.field, kind.value)

    def operands(self, rules: RulesInForce, points: list[PointRow]) -> list[Operand]:
        if rules is None:
            return []
        return site_operands(rules[0], rules[1],
                             (OperandPoint(p.id, p.device_id, p.code, p.field) for p in points))


def site_info(row: SiteRow, catalogue: Catalogue) -> SiteInfo:
    known = catalogue.site_types.get(row.site_type)
    address = " ".join(part for part in (row.parent_region_name, row.region_name) if part)
    return SiteInfo(
        id=row.id, name=row.name, enterprise_id=row.enterprise_id, enterprise=row.enterprise,
        site_type=row.site_type, site_type_zh=known.name_zh if known else row.site_type,
        site_type_en=known.name_en if known else row.site_type, status=row.status,
        region=Region(code=row.region_code, name=row.region_name, parent_name=row.parent_region_name),
        address=address, longitude=row.longitude, latitude=row.latitude,
    )


def device_state(row: DeviceRow, now_ms: int, view: SiteView) -> DeviceState:
    return DeviceState(
        id=row.id, mn=row.mn, protocol=row.protocol, device_kind=row.device_kind, interval_s=row.interval_s,
        status=row.status, last_contact_ms=row.last_ms,
        last_contact=None if row.last_ms is None else iso(row.last_ms, view.tz),
        online=is_online(row.last_ms, row.interval_s, now_ms, view.offline_after_intervals),
    )


def bands(db: sqlite3.Connection, operands: list[Operand], points: list[PointRow], devices: list[DeviceRow],
          from_ms: int, to_ms: int, view: SiteView) -> list[Band]:
    """Each equipment's ON/OFF bands over [from_ms, to_ms], from its points' readings."""
    interval = {d.id: d.interval_s for d in devices}
    device_of = {p.id: p.device_id for p in points}
    out: list[Band] = []
    for operand in operands:
        kind = Kind(operand.kind)
        per_point = [
            runs(db, kind, pid, from_ms, to_ms, view.stale_ms(interval.get(device_of.get(pid, -1), 60)),
                 operand.on_above)
            for pid in operand.point_ids
        ]
        out += [Band(operand=operand.name, on=on, from_ms=a, to_ms=b) for a, b, on in any_on(per_point)]
    return out
