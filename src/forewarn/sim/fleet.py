"""The seed fleets: the devices the simulator plays, read from the package's data files.

The same two CSV files feed both sides of the demo: ``forewarn registry import`` registers
the devices and points on the platform, and the simulator reads them to know which MN,
password and points to send. Keeping one source means the demo cannot drift into sending
data for devices the platform has never heard of (unless an incident says so).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from forewarn.sim.profiles import DeviceProfile, Profiles, parse_profiles

__all__ = [
    "DEVICE_COLUMNS",
    "POINT_COLUMNS",
    "SimDevice",
    "SimPoint",
    "fleet_files",
    "fleet_regions_file",
    "load_fleet",
    "load_profiles",
]

DEVICE_COLUMNS = (
    "region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type",
    "longitude", "latitude", "mn", "password", "protocol", "interval_s", "device_kind",
)
POINT_COLUMNS = ("mn", "code", "field", "name", "quantity", "unit", "lower", "upper", "role")

_DEVICES = "fleet_devices.csv"
_POINTS = "fleet_points.csv"
_REGIONS = "fleet_regions.csv"
_PROFILES = "profiles.toml"


@dataclass(frozen=True, slots=True)
class SimPoint:
    """One (code, field) a device sends, as registered: e.g. meter ``100001`` field ``Ia``."""

    code: str
    field: str
    name: str
    quantity: str
    unit: str
    lower: float | None
    upper: float | None
    role: str


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated device: identity, where it is, what it sends, and how it behaves."""

    mn: str
    password: str
    kind: str
    interval_s: int
    enterprise: str
    site: str
    site_type: str
    region_code: str
    region_name: str
    parent_region_code: str
    longitude: float
    latitude: float
    protocol: str
    points: tuple[SimPoint, ...]
    profile: DeviceProfile

    def codes(self) -> list[str]:
        """The point codes (meters, tanks, detectors) in file order, each once."""
        return list(dict.fromkeys(p.code for p in self.points))

    def points_of(self, code: str) -> list[SimPoint]:
        """The points of one code, in file order (e.g. Ia, Ua, Pt, Ept of one meter)."""
        return [p for p in self.points if p.code == code]


def _data_file(name: str) -> Path:
    resource = resources.files("forewarn.sim").joinpath("data", name)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"simulator data file {name} not found at {path}; reinstall forewarn "
            "(the package must be installed from a directory, not a zip)"
        )
    return path


def fleet_files() -> tuple[Path, Path]:
    """Paths of fleet_devices.csv and fleet_points.csv, for ``forewarn registry import``."""
    return _data_file(_DEVICES), _data_file(_POINTS)


def fleet_regions_file() -> Path:
    """Path of fleet_regions.csv: the provinces, cities and counties the fleet's sites are in."""
    return _data_file(_REGIONS)


def load_profiles(path: Path | None = None) -> Profiles:
    """Read profiles.toml (the packaged one by default)."""
    return parse_profiles((path or _data_file(_PROFILES)).read_text(encoding="utf-8"))


def _rows(text: str, columns: tuple[str, ...], name: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != columns:
        raise ValueError(f"{name}: header must be exactly {','.join(columns)}")
    for row in reader:
        yield reader.line_num, row


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def parse_points(text: str, name: str = _POINTS) -> dict[str, list[SimPoint]]:
    """Points grouped by MN, in file order."""
    by_mn: dict[str, list[SimPoint]] = {}
    for line, row in _rows(text, POINT_COLUMNS, name):
        try:
            point = SimPoint(row["code"], row["field"], row["name"], row["quantity"], row["unit"],
                             _number(row["lower"]), _number(row["upper"]), row["role"])
        except ValueError as exc:
            raise ValueError(f"{name} line {line}: {exc}") from None
        by_mn.setdefault(row["mn"], []).append(point)
    return by_mn


def parse_devices(
    text: str, points: Mapping[str, list[SimPoint]], profiles: Profiles, name: str = _DEVICES
) -> list[SimDevice]:
    """Devices in file order, each with its points and its resolved profile."""
    devices: list[SimDevice] = []
    seen: set[str] = set()
    for line, row in _rows(text, DEVICE_COLUMNS, name):
        mn = row["mn"]
        if mn in seen:
            raise ValueError(f"{name} line {line}: MN {mn} appears twice")
        seen.add(mn)
        try:
            devices.append(SimDevice(
                mn=mn, password=row["password"], kind=row["device_kind"],
                interval_s=int(row["interval_s"]), enterprise=row["enterprise"], site=row["site"],
                site_type=row["site_type"], region_code=row["region_code"],
                region_name=row["region_name"], parent_region_code=row["parent_region_code"],
                longitude=float(row["longitude"]), latitude=float(row["latitude"]),
                protocol=row["protocol"], points=tuple(points.get(mn, ())),
                profile=profiles.for_device(row["device_kind"], row["site_type"]),
            ))
        except ValueError as exc:
            raise ValueError(f"{name} line {line}: {exc}") from None
    return devices


def load_fleet(
    devices_csv: Path | None = None,
    points_csv: Path | None = None,
    profiles_toml: Path | None = None,
) -> list[SimDevice]:
    """The seed fleet (Hechi gas stations, Datong factories, sites and kitchens) by default."""
    profiles = load_profiles(profiles_toml)
    points_path = points_csv or _data_file(_POINTS)
    points = parse_points(points_path.read_text(encoding="utf-8"), points_path.name)
    devices_path = devices_csv or _data_file(_DEVICES)
    return parse_devices(devices_path.read_text(encoding="utf-8"), points, profiles,
                         devices_path.name)
