"""What a simulated device measures at an instant: its values and its facility states.

A pure function of (device, instant, incidents). The noise is drawn from a generator seeded
by the MN and the instant, so a value can be recomputed at will: the 2051 aggregate samples
the same curve as the 2011 packets, and a test can ask for 12:00 and 03:00 without running
a clock. Units and codes follow profiles.toml (see sim/data/README.md).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence

from forewarn.sim.fleet import SimDevice
from forewarn.sim.incidents import Incident, IncidentKind, active
from forewarn.sim.power import DECIMALS as POWER_DECIMALS
from forewarn.sim.power import meter_values
from forewarn.sim.profiles import FieldSpec
from forewarn.sim.rhythm import (
    daily,
    hour_of_day,
    in_windows,
    seasonal,
    stable_unit,
    tank_fraction,
    window_activity,
)

__all__ = ["Values", "decimals_of", "facility_status", "fans_on", "sample"]

#: code -> field -> value, e.g. ``{"a34002": {"Rtd": 45.2}}`` or ``{"T1": {"Level": 61.0}}``
Values = dict[str, dict[str, float]]

_RTD = "Rtd"
_FUME = "a34041"
_PM10 = "a34002"
_LEL = "LEL"


def rng_for(device: SimDevice, ms: int) -> random.Random:
    """The noise source of one device at one instant (stable across runs and processes)."""
    return random.Random(f"{device.mn}|{ms}")


def _activity(spec: FieldSpec, device: SimDevice, key: str, ms: int, hour: float) -> float:
    if spec.rhythm == "daily":
        return daily(hour, spec.peak_hour)
    if spec.rhythm == "meals":
        meals = device.profile.meals
        return 0.0 if meals is None else window_activity(hour, meals.windows, meals.ramp_min / 60)
    if spec.rhythm == "tank":
        u = stable_unit(device.mn, key, "period")
        period_h = spec.period_h_min + (spec.period_h_max - spec.period_h_min) * u
        return tank_fraction(ms, period_h, stable_unit(device.mn, key, "phase"), spec.refill_h)
    return 0.0


def _clamp(spec: FieldSpec, value: float) -> float:
    if spec.wrap:
        value %= spec.wrap
    return min(spec.hi, max(spec.lo, value))


def _field_values(
    device: SimDevice,
    key: str,
    names: Iterable[str],
    ms: int,
    rng: random.Random,
    forced: Mapping[str, float],
) -> dict[str, float]:
    """Values of ``names`` (profile order) for one code.

    ``forced`` (an incident's level) replaces the modelled value, plus up to 5 % of noise
    above it, so the incident never reads below the level it promises.
    """
    specs = device.profile.fields
    hour = hour_of_day(ms)
    season = seasonal(ms)
    env: dict[str, float] = {}
    for name in names:
        spec = specs[name]
        if spec.follows:
            raw = spec.base + spec.ratio * env.get(spec.follows, 0.0)
        else:
            level = spec.base + spec.amplitude * _activity(spec, device, key, ms, hour)
            if spec.spread:
                level *= 1 + spec.spread * (2 * stable_unit(device.mn, key, name, "spread") - 1)
            raw = level + spec.annual_amplitude * season
        noise = rng.gauss(0.0, spec.noise) if spec.noise else 0.0
        if name in forced:
            raw, noise = forced[name], rng.uniform(0.0, forced[name] * 0.05)
        env[name] = _clamp(spec, raw + noise)
    return env


def fans_on(device: SimDevice, ms: int) -> bool:
    """Whether a kitchen's fan normally runs at ``ms`` (around meal times)."""
    meals = device.profile.meals
    if meals is None:
        return False
    return in_windows(hour_of_day(ms), meals.windows, meals.fan_margin_min / 60)


def facility_status(
    device: SimDevice, ms: int, incidents: Sequence[Incident] = ()
) -> dict[str, int]:
    """CN 2021 running states: ``SB1`` exhaust fan, ``SB2`` purifier (1 running, 0 stopped).

    A fume exceedance runs the fan whatever the hour (a kitchen cooking late); a purifier-off
    incident stops only the purifier, so the fan runs unpurified.
    """
    running = fans_on(device, ms) or any(active(incidents, ms, IncidentKind.FUME_EXCEED, device.mn))
    purifying = running and not any(active(incidents, ms, IncidentKind.PURIFIER_OFF, device.mn))
    return {"SB1": 1 if running else 0, "SB2": 1 if purifying else 0}


def sample(device: SimDevice, ms: int, incidents: Sequence[Incident] = ()) -> Values:
    """Every value the device measures at ``ms`` (unrounded), incidents applied."""
    rng = rng_for(device, ms)
    if device.profile.power is not None:
        return meter_values(device, ms, rng, incidents)
    specs = device.profile.fields
    if device.points and all(p.field in specs for p in device.points):
        # Tag-based devices (gas RTU): each code (tank, detector) has its own fields.
        leaks = {i.target: i.level for i in active(incidents, ms, IncidentKind.GAS_LEAK, device.mn)}
        out: Values = {}
        for code in device.codes():
            wanted = {p.field for p in device.points_of(code)}
            names = [n for n in specs if n in wanted]
            forced = {_LEL: leaks[code]} if code in leaks and _LEL in wanted else {}
            got = _field_values(device, code, names, ms, rng, forced)
            out[code] = {p.field: got[p.field] for p in device.points_of(code) if p.field in got}
        return out
    # Factor-based devices (dust, fume): each profile field is a factor code with an Rtd.
    # Forcing PM10 forces what follows it too (PM2.5, TSP), as a real dust plume would.
    forced = {}
    for incident in active(incidents, ms, IncidentKind.FUME_EXCEED, device.mn):
        forced[_FUME] = incident.level
    if _PM10 in specs:
        for incident in active(incidents, ms, IncidentKind.DUST_EXCEED, device.mn):
            forced[_PM10] = incident.level
    values = _field_values(device, "", specs, ms, rng, forced)
    return {code: {_RTD: value} for code, value in values.items()}


def decimals_of(device: SimDevice, code: str, field: str) -> int:
    """Digits on the wire for one value."""
    if device.profile.power is not None:
        return POWER_DECIMALS.get(field, 2)
    spec = device.profile.fields.get(field if field != _RTD else code)
    return spec.decimals if spec is not None else 2


def is_finite(values: Values) -> bool:
    """True when no value is NaN or infinite (a guard for tests and the packet builder)."""
    return all(math.isfinite(v) for fields in values.values() for v in fields.values())
