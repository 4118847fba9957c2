"""Electricity meters of supervised factories: production lines and their treatment equipment.

Regulators watch two things in these numbers (DOMAIN.md §3): that treatment runs whenever
production runs, and that meters are alive. So the model is built around a working schedule:
production meters draw their load inside the schedule's windows, treatment meters start a
little before and stop a little after, and both idle outside. The cumulative energy ``Ept``
is a closed-form integral of the expected load since a fixed epoch, so it grows steadily
across simulator restarts instead of starting again from a random number; a treatment-off
incident subtracts the energy it did not use, so the meter's total stays consistent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import lru_cache

from forewarn.sim.fleet import SimDevice
from forewarn.sim.incidents import Incident, IncidentKind
from forewarn.sim.profiles import PowerSpec, Schedule
from forewarn.sim.rhythm import hour_of_day, local_day_ms, stable_unit, window_activity

__all__ = ["DECIMALS", "energy_kwh", "load_fraction", "meter_values", "production_running"]

#: Digits on the wire per field.
DECIMALS = {"Ia": 2, "Ua": 1, "Pt": 2, "Ept": 2}

_PRODUCTION = "production"
_TREATMENT = "treatment"
#: Local day number of 2020-01-01, the start of every meter's energy count.
_EPOCH_DAY = 18262
_MINUTES = 1440
#: Treatment current during a treatment-off incident, as a fraction of the meter range.
_OFF_LOAD = 0.002


def _spec(device: SimDevice) -> PowerSpec:
    if device.profile.power is None:
        raise ValueError(f"device {device.mn} is not an electricity meter (no power profile)")
    return device.profile.power


def _activity(spec: PowerSpec, schedule: Schedule, role: str, hour: float) -> float:
    ramp_h = spec.ramp_min / 60
    if role == _TREATMENT:
        lead, lag = spec.treatment_lead_min / 60, spec.treatment_lag_min / 60
        windows = tuple((max(0.0, s - lead), min(24.0, e + lag)) for s, e in schedule.on)
        if any(s - lead <= 0 and e + lag >= 24 for s, e in schedule.on):
            windows = ((0.0, 24.0),)
        return window_activity(hour, windows, ramp_h)
    return window_activity(hour, schedule.on, ramp_h)


def load_fraction(spec: PowerSpec, schedule: Schedule, role: str, hour: float) -> float:
    """Expected load of a meter as a fraction of its current range at a local hour."""
    if role == _TREATMENT:
        lo, hi = spec.treatment_standby, spec.treatment_load
    else:
        lo, hi = spec.production_standby, spec.production_load
    return lo + (hi - lo) * _activity(spec, schedule, role, hour)


@lru_cache(maxsize=64)
def _cumulative(spec: PowerSpec, schedule: Schedule, role: str) -> tuple[float, ...]:
    """Integral of the load fraction (in hours) from local midnight to each minute of a day."""
    total = 0.0
    cum = [0.0]
    for minute in range(_MINUTES):
        total += load_fraction(spec, schedule, role, (minute + 0.5) / 60) / 60
        cum.append(total)
    return tuple(cum)


def _amps(device: SimDevice, code: str) -> float:
    for point in device.points_of(code):
        if point.field == "Ia" and point.upper:
            return point.upper
    return 100.0


def _role(device: SimDevice, code: str) -> str:
    roles = {p.role for p in device.points_of(code)}
    return _TREATMENT if _TREATMENT in roles else _PRODUCTION


def _rated_kw(device: SimDevice, code: str) -> float:
    ua = device.profile.fields.get("Ua")
    volts = ua.base if ua is not None else 220.0
    return 3 * volts * _amps(device, code) * _spec(device).power_factor / 1000


def _expected_kwh(device: SimDevice, code: str, ms: int) -> float:
    spec = _spec(device)
    cum = _cumulative(spec, spec.schedule_for(device.enterprise), _role(device, code))
    day, ms_of_day = local_day_ms(ms)
    minute, frac = divmod(ms_of_day / 60_000, 1.0)
    m = int(minute)
    hours = (day - _EPOCH_DAY) * cum[-1] + cum[m] + frac * (cum[m + 1] - cum[m])
    start = 20_000 + 480_000 * stable_unit(device.mn, code, "ept0")
    return start + _rated_kw(device, code) * hours


def energy_kwh(
    device: SimDevice, code: str, ms: int, incidents: Sequence[Incident] = ()
) -> float:
    """The meter's cumulative energy at ``ms``, less what treatment-off incidents did not use.

    ``incidents`` must include past treatment-off incidents of this device, not only the
    active ones, or the total would jump back up when one ends.
    """
    total = _expected_kwh(device, code, ms)
    if _role(device, code) == _TREATMENT:
        for inc in incidents:
            if inc.kind is IncidentKind.TREATMENT_OFF and inc.mn == device.mn and inc.start_ms < ms:
                unused = _expected_kwh(device, code, min(ms, inc.end_ms))
                total -= unused - _expected_kwh(device, code, inc.start_ms)
    return total


def production_running(device: SimDevice, ms: int) -> bool:
    """Whether any production meter of the device is at more than half its working load."""
    spec = _spec(device)
    schedule = spec.schedule_for(device.enterprise)
    hour = hour_of_day(ms)
    return any(
        _role(device, code) == _PRODUCTION
        and _activity(spec, schedule, _PRODUCTION, hour) > 0.5
        for code in device.codes()
    )


def meter_values(
    device: SimDevice, ms: int, rng: random.Random, incidents: Sequence[Incident] = ()
) -> dict[str, dict[str, float]]:
    """Ia, Ua, Pt and Ept of every meter of the device at ``ms`` (noise drawn from ``rng``)."""
    spec = _spec(device)
    schedule = spec.schedule_for(device.enterprise)
    hour = hour_of_day(ms)
    treatment_off = any(
        i.kind is IncidentKind.TREATMENT_OFF and i.mn == device.mn and i.active_at(ms)
        for i in incidents
    )
    ua_spec = device.profile.fields.get("Ua")
    out: dict[str, dict[str, float]] = {}
    for code in device.codes():
        role = _role(device, code)
        load = load_fraction(spec, schedule, role, hour)
        if role == _TREATMENT and treatment_off:
            load = _OFF_LOAD
        amps = max(0.0, _amps(device, code) * load * (1 + rng.gauss(0, spec.current_noise)))
        volts = 220.0
        if ua_spec is not None:
            volts = min(ua_spec.hi, max(ua_spec.lo, ua_spec.base + rng.gauss(0, ua_spec.noise)))
        kw = 3 * volts * amps * spec.power_factor / 1000
        values = {"Ia": amps, "Ua": volts, "Pt": kw, "Ept": energy_kwh(device, code, ms, incidents)}
        fields = [p.field for p in device.points_of(code)] or list(values)
        out[code] = {f: values[f] for f in fields if f in values and math.isfinite(values[f])}
    return out
