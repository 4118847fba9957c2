"""What the engine knows of devices and points: where they are and what they measure.

Loaded from the registry when the engine starts and again when the registry changes; a point
first seen in data gets its names from the factor catalogue, like the store's discovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forewarn.catalogue import Catalogue
from forewarn.rules.events import SubjectInfo
from forewarn.rules.point_rules import PointMeta

__all__ = ["DeviceContext", "PointContext", "PointInfo", "RuleCatalog"]


@dataclass(slots=True, frozen=True)
class DeviceContext:
    id: int
    mn: str
    interval_s: int
    device_kind: str
    site_id: int
    site: str
    enterprise: str
    site_type: str
    region_code: str
    region_name: str
    registered_ms: int

    def info(self, point: str = "") -> SubjectInfo:
        return SubjectInfo(self.mn, self.site_id, self.site, self.enterprise, self.region_code,
                           self.region_name, point)

    @property
    def site_key(self) -> str:
        """How overrides name a site: ``enterprise/site``."""
        return f"{self.enterprise}/{self.site}"


@dataclass(slots=True, frozen=True)
class PointContext:
    device: DeviceContext
    code: str
    field: str
    quantity: str
    role: str
    meta: PointMeta

    @property
    def key(self) -> str:
        """How overrides and subjects name a point: ``MN/code-field``."""
        return f"{self.device.mn}/{self.code}-{self.field}"


#: what the registry says of a point: (name, quantity, unit, role, lower, upper, name_en)
PointInfo = tuple[str, str, str, str, float | None, float | None, str]
_NONE: dict[tuple[str, str], PointInfo] = {}


class RuleCatalog:
    def __init__(
        self,
        devices: dict[int, DeviceContext],
        points: dict[tuple[int, str, str], PointInfo],
        catalogue: Catalogue,
    ) -> None:
        """``points`` maps (device id, code, field) to (name, quantity, unit, role, lower, upper, name_en)."""
        by_device: dict[int, dict[tuple[str, str], PointInfo]] = {}
        for (device_id, code, field), info in points.items():
            by_device.setdefault(device_id, {})[(code, field)] = info
        self._set(devices, by_device, catalogue, {}, {})

    @classmethod
    def of(cls, devices: dict[int, DeviceContext], points: dict[int, dict[tuple[str, str], PointInfo]],
           catalogue: Catalogue, *, rows: dict[int, tuple[Any, ...]], texts: dict[int, str]) -> RuleCatalog:
        """From each device's points (by code and field), with what each device and its points
        were read from (``rows``, ``texts``): the next rebuild compares with those, not with objects."""
        catalog = cls.__new__(cls)
        catalog._set(devices, points, catalogue, rows, texts)
        return catalog

    def _set(self, devices: dict[int, DeviceContext], points: dict[int, dict[tuple[str, str], PointInfo]],
             catalogue: Catalogue, rows: dict[int, tuple[Any, ...]], texts: dict[int, str]) -> None:
        self.devices = devices
        #: device id -> (code, field) -> what the registry says of the point
        self.points_by_device = points
        self._catalogue = catalogue
        #: the registry row each device context was made of, and the JSON text of each device's
        #: points (empty when built from plain rows)
        self.device_rows = rows
        self.point_texts = texts

    def point(self, device_id: int, code: str, field: str) -> PointContext | None:
        device = self.devices.get(device_id)
        if device is None:
            return None
        known = self.points_by_device.get(device_id, _NONE).get((code, field))
        if known is None:
            t = self._catalogue.point_template(code, field)
            return PointContext(device, code, field, t.quantity, "",
                                PointMeta(t.name_zh, t.name_en, t.unit))
        name, quantity, unit, role, lower, upper, name_en = known
        return PointContext(device, code, field, quantity, role,
                            PointMeta(name, name_en or name, unit, lower, upper))
