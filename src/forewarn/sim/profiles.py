"""Device-kind profiles: what each kind of simulated device sends and how its values move.

The numbers live in ``sim/data/profiles.toml`` rather than in code so that a deployer can make
the demo look like their own city (altitude changes air pressure, climate changes temperature)
without touching Python. This module only turns that file into typed, validated values, and
fails early with the key that is wrong, because a typo in a profile would otherwise show up
as a flat line on a dashboard much later.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "RHYTHMS",
    "DemoSpec",
    "DeviceProfile",
    "FieldSpec",
    "IncidentSpec",
    "MealSpec",
    "PowerSpec",
    "Profiles",
    "Schedule",
    "ScriptedIncident",
    "parse_profiles",
]

#: How a field's activity (0..1) follows the clock; see profiles.toml for the shapes.
RHYTHMS = ("flat", "daily", "meals", "tank")

#: (start hour, end hour) of a local-time window; 24.0 is the end of the day.
Window = tuple[float, float]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one field's value is drawn: ``base + amplitude * activity + seasonal + noise``."""

    rhythm: str = "flat"
    base: float = 0.0
    amplitude: float = 0.0
    peak_hour: float = 14.0
    annual_amplitude: float = 0.0
    #: relative spread of base + amplitude * activity between devices (0.3 = +/-30 %)
    spread: float = 0.0
    noise: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf
    decimals: int = 2
    wrap: float = 0.0
    follows: str = ""
    ratio: float = 1.0
    period_h_min: float = 72.0
    period_h_max: float = 72.0
    refill_h: float = 1.5


@dataclass(frozen=True, slots=True)
class Schedule:
    """A working schedule for electricity supervision, matched on the enterprise name."""

    name: str
    match: tuple[str, ...]
    on: tuple[Window, ...]


@dataclass(frozen=True, slots=True)
class PowerSpec:
    """How production and treatment meters draw current (fractions of the meter range)."""

    power_factor: float
    production_load: float
    production_standby: float
    treatment_load: float
    treatment_standby: float
    treatment_lead_min: float
    treatment_lag_min: float
    ramp_min: float
    current_noise: float
    schedules: tuple[Schedule, ...]

    def schedule_for(self, enterprise: str) -> Schedule:
        """The first schedule whose keywords occur in the name; the last one is the default."""
        for schedule in self.schedules:
            if any(word in enterprise for word in schedule.match):
                return schedule
        return self.schedules[-1]


@dataclass(frozen=True, slots=True)
class MealSpec:
    """When a kitchen cooks (and so when its fan and purifier run)."""

    windows: tuple[Window, ...]
    ramp_min: float
    fan_margin_min: float


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """Everything the simulator needs to know about one kind of device at one site type."""

    kind: str
    st: str
    send: tuple[str, ...]
    aggregate_every_s: int
    fields: Mapping[str, FieldSpec]
    meals: MealSpec | None = None
    power: PowerSpec | None = None


@dataclass(frozen=True, slots=True)
class IncidentSpec:
    """How often an incident kind happens relative to the others, how long, how strong."""

    weight: float
    min_s: float
    max_s: float
    low: float = 0.0
    high: float = 0.0


@dataclass(frozen=True, slots=True)
class ScriptedIncident:
    """An incident the demo schedules instead of drawing it: ``at_s`` from the demo's start
    (negative: in the replayed history), lasting ``duration_s``, at a site of one of
    ``site_types`` when one qualifies (any site otherwise)."""

    at_s: float
    kind: str
    duration_s: float
    site_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoSpec:
    """How ``forewarn demo`` opens: ``history_s`` of simulated past replayed at
    ``replay_speed`` before it runs in real time, and the scripted incidents."""

    history_s: float = 0.0
    replay_speed: float = 60.0
    opening: tuple[ScriptedIncident, ...] = ()


@dataclass(frozen=True, slots=True)
class Profiles:
    """All device profiles (per kind, per site type), the incident settings and the demo's."""

    by_kind: Mapping[str, Mapping[str, DeviceProfile]]
    incidents: Mapping[str, IncidentSpec]
    demo: DemoSpec = DemoSpec()

    def for_device(self, kind: str, site_type: str) -> DeviceProfile:
        """The profile of a kind, with the site type's overrides applied when there are any."""
        try:
            variants = self.by_kind[kind]
        except KeyError:
            known = ", ".join(sorted(self.by_kind))
            raise ValueError(
                f"no simulator profile for device kind {kind!r} (known: {known})"
            ) from None
        return variants.get(site_type, variants[""])


_FIELD_KEYS = frozenset(f.name for f in fields(FieldSpec))
_KIND_KEYS = frozenset({"st", "send", "aggregate_every_s", "fields", "site_types", "meals",
                        "ramp_min", "fan_margin_min", "schedules"})
_POWER_KEYS = frozenset(f.name for f in fields(PowerSpec)) - {"schedules"}


def _hours(text: str, where: str) -> float:
    try:
        hh, mm = text.split(":")
        value = int(hh) + int(mm) / 60
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a HH:MM time") from None
    if not 0 <= value <= 24:
        raise ValueError(f"{where}: {text!r} is outside 00:00-24:00")
    return value


def _windows(raw: Any, where: str) -> tuple[Window, ...]:
    return tuple((_hours(a, where), _hours(b, where)) for a, b in raw)


def _field_spec(raw: Mapping[str, Any], where: str) -> FieldSpec:
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    spec = FieldSpec(**raw)
    if spec.rhythm not in RHYTHMS:
        raise ValueError(f"{where}: rhythm {spec.rhythm!r} is not one of {RHYTHMS}")
    return spec


def _field_specs(raw: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, FieldSpec]:
    specs: dict[str, FieldSpec] = {}
    for name, body in raw.items():
        spec = _field_spec(body, f"{where}.fields.{name}")
        if spec.follows and spec.follows not in specs:
            raise ValueError(
                f"{where}.fields.{name}: follows {spec.follows!r}, which must be defined above it"
            )
        specs[name] = spec
    return specs


def _kind_profile(kind: str, raw: Mapping[str, Any]) -> dict[str, DeviceProfile]:
    unknown = set(raw) - _KIND_KEYS - _POWER_KEYS
    if unknown:
        raise ValueError(f"{kind}: unknown keys {sorted(unknown)}")
    meals = None
    if "meals" in raw:
        meals = MealSpec(_windows(raw["meals"], f"{kind}.meals"), float(raw.get("ramp_min", 20)),
                         float(raw.get("fan_margin_min", 30)))
    power = None
    if "schedules" in raw:
        schedules = tuple(
            Schedule(s["name"], tuple(s.get("match", ())), _windows(s["on"], f"{kind}.schedules"))
            for s in raw["schedules"]
        )
        power = PowerSpec(schedules=schedules, **{k: float(raw[k]) for k in _POWER_KEYS})
    base_fields: dict[str, dict[str, Any]] = {n: dict(b) for n, b in raw.get("fields", {}).items()}

    def build(field_raw: Mapping[str, Mapping[str, Any]], where: str) -> DeviceProfile:
        return DeviceProfile(
            kind=kind,
            st=str(raw["st"]),
            send=tuple(str(cn) for cn in raw["send"]),
            aggregate_every_s=int(raw.get("aggregate_every_s", 0)),
            fields=_field_specs(field_raw, where),
            meals=meals,
            power=power,
        )

    variants = {"": build(base_fields, kind)}
    for site_type, override in raw.get("site_types", {}).items():
        merged = {name: dict(body) for name, body in base_fields.items()}
        for name, body in override.get("fields", {}).items():
            merged.setdefault(name, {}).update(body)
        variants[site_type] = build(merged, f"{kind}.site_types.{site_type}")
    return variants


def parse_profiles(text: str) -> Profiles:
    """Read profiles.toml text into :class:`Profiles`; raises ValueError naming the bad key."""
    raw = tomllib.loads(text)
    incidents = {
        name: IncidentSpec(**{k: float(v) for k, v in body.items()})
        for name, body in raw.pop("incidents", {}).items()
    }
    demo = _demo_spec(raw.pop("demo", {}), incidents)
    by_kind = {kind: _kind_profile(kind, body) for kind, body in raw.items()}
    return Profiles(by_kind=by_kind, incidents=incidents, demo=demo)


def _demo_spec(raw: Mapping[str, Any], incidents: Mapping[str, IncidentSpec]) -> DemoSpec:
    unknown = set(raw) - {"history_s", "replay_speed", "opening"}
    if unknown:
        raise ValueError(f"demo: unknown keys {sorted(unknown)}")
    opening = []
    for n, body in enumerate(raw.get("opening", ()), 1):
        where = f"demo.opening #{n}"
        extra = set(body) - {f.name for f in fields(ScriptedIncident)}
        if extra:
            raise ValueError(f"{where}: unknown keys {sorted(extra)}")
        try:
            item = ScriptedIncident(float(body["at_s"]), str(body["kind"]), float(body["duration_s"]),
                                    tuple(str(t) for t in body.get("site_types", ())))
        except KeyError as exc:
            raise ValueError(f"{where}: {exc.args[0]} is missing") from None
        if item.kind not in incidents:
            raise ValueError(f"{where}: kind {item.kind!r} has no [incidents.{item.kind}] settings")
        if item.duration_s <= 0:
            raise ValueError(f"{where}: duration_s must be positive")
        opening.append(item)
    spec = DemoSpec(float(raw.get("history_s", 0.0)), float(raw.get("replay_speed", 60.0)), tuple(opening))
    if spec.history_s < 0 or spec.replay_speed <= 1:
        raise ValueError("demo: history_s must be >= 0 and replay_speed above 1")
    return spec
