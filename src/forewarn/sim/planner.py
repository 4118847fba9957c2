"""Deciding when the next incident happens, what it is and which device it hits.

Incidents arrive as a Poisson process (``rate_per_min`` across the whole fleet, in simulated
time) and every choice is drawn from one ``random.Random(seed)`` in a fixed order, so a seed
and a start instant replay the same demo: useful when a bug report says "seed 7, the third
incident". An incident only goes where it can be seen: a treatment-off while production
runs, an oil-fume exceedance while the kitchen's fan runs, a gas leak where there are
detectors; when no device qualifies for the drawn kind, another kind is drawn.

A demo also schedules some incidents at set instants (:class:`Scheduled`), so that a
newcomer sees every domain's alarm early instead of whenever chance has it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from forewarn.sim.fleet import SimDevice
from forewarn.sim.incidents import MALFORMED_VARIANTS, Incident, IncidentKind
from forewarn.sim.power import production_running
from forewarn.sim.profiles import IncidentSpec
from forewarn.sim.signals import fans_on

__all__ = ["DEFAULT_INCIDENT_RATE", "IncidentPlanner", "Scheduled", "eligible"]

#: Incidents per simulated minute across the fleet: one noticeable event every ~1.5 minutes.
DEFAULT_INCIDENT_RATE = 0.6


def eligible(kind: IncidentKind, device: SimDevice, ms: int, *, any_hour: bool = False) -> bool:
    """Whether ``kind`` would be visible on ``device`` at ``ms``.

    ``any_hour``: a fume exceedance may also go to a kitchen outside its hours (it runs the
    fan itself: a kitchen cooking late), so that a scheduled one happens whatever the time.
    """
    if kind is IncidentKind.GAS_LEAK:
        return any(p.field == "LEL" for p in device.points)
    if kind is IncidentKind.TREATMENT_OFF:
        return (
            device.profile.power is not None
            and any(p.role == "treatment" for p in device.points)
            and production_running(device, ms)
        )
    if kind is IncidentKind.DUST_EXCEED:
        return "a34002" in device.profile.fields and device.profile.power is None
    if kind is IncidentKind.FUME_EXCEED:
        return device.profile.meals is not None and (any_hour or fans_on(device, ms))
    if kind is IncidentKind.PURIFIER_OFF:
        return device.profile.meals is not None and fans_on(device, ms)
    return True


@dataclass(frozen=True, slots=True)
class Scheduled:
    """An incident due at ``at_ms`` for ``duration_ms``, at a site of one of ``site_types``
    when one qualifies (any qualifying device otherwise)."""

    at_ms: int
    kind: IncidentKind
    duration_ms: int
    site_types: tuple[str, ...] = ()


class IncidentPlanner:
    """Issues incidents one at a time; call :meth:`pop` when the clock reaches :attr:`next_at`."""

    def __init__(
        self,
        devices: Sequence[SimDevice],
        specs: Mapping[str, IncidentSpec],
        *,
        rate_per_min: float,
        seed: int | None,
        start_ms: int,
        scheduled: Sequence[Scheduled] = (),
    ) -> None:
        """``scheduled`` incidents happen at their instants, besides the drawn ones (a kind
        scheduled needs its settings in ``specs``, with any weight)."""
        self._devices = list(devices)
        self._all_specs = {IncidentKind(k): s for k, s in specs.items()}
        self._specs = {k: s for k, s in self._all_specs.items() if s.weight > 0}
        self._rate_per_ms = max(0.0, rate_per_min) / 60_000
        self._rng = random.Random(seed)
        self._issued: list[Incident] = []
        self._next: int | None = None
        self._scheduled = sorted(scheduled, key=lambda s: s.at_ms) if self._devices else []
        if self._rate_per_ms > 0 and self._devices and self._specs:
            self._next = start_ms + self._gap()

    @property
    def next_at(self) -> int | None:
        """Simulated instant (epoch ms) of the next incident; None when there will be none."""
        if self._scheduled and (self._next is None or self._scheduled[0].at_ms <= self._next):
            return self._scheduled[0].at_ms
        return self._next

    def _gap(self) -> int:
        return max(1, round(self._rng.expovariate(self._rate_per_ms)))

    def _busy(self, device: SimDevice, kind: IncidentKind, ms: int) -> bool:
        return any(
            i.mn == device.mn
            and i.active_at(ms)
            and (i.kind is kind or i.kind is IncidentKind.SILENT)
            for i in self._issued
        )

    def pop(self) -> Incident | None:
        """The incident due at :attr:`next_at` (None if no device can take one now)."""
        at = self.next_at
        if at is None:
            return None
        self._issued = [i for i in self._issued if i.end_ms > at]
        if self._scheduled and self._scheduled[0].at_ms == at:
            return self._pop_scheduled(self._scheduled.pop(0))
        self._next = at + self._gap()
        kinds = list(self._specs)
        while kinds:
            kind = self._rng.choices(kinds, weights=[self._specs[k].weight for k in kinds])[0]
            candidates = [d for d in self._devices
                          if eligible(kind, d, at) and not self._busy(d, kind, at)]
            if candidates:
                incident = self._make(kind, self._rng.choice(candidates), at)
                self._issued.append(incident)
                return incident
            kinds.remove(kind)
        return None

    def _pop_scheduled(self, item: Scheduled) -> Incident | None:
        at = item.at_ms
        candidates = [d for d in self._devices if eligible(item.kind, d, at, any_hour=True)
                      and not self._busy(d, item.kind, at)]
        preferred = [d for d in candidates if d.site_type in item.site_types]
        if not candidates:
            return None
        incident = self._make(item.kind, self._rng.choice(preferred or candidates), at,
                              duration_ms=item.duration_ms)
        self._issued.append(incident)
        return incident

    def _make(self, kind: IncidentKind, device: SimDevice, at: int,
              duration_ms: int | None = None) -> Incident:
        spec = self._all_specs[kind]
        rng = self._rng
        if kind is IncidentKind.MALFORMED:
            # One tick of the device falls in a window one interval long: exactly one packet.
            return Incident(kind, device.mn, device.site, at, at + device.interval_s * 1000,
                            target=rng.choice(MALFORMED_VARIANTS))
        drawn = round(rng.uniform(spec.min_s, spec.max_s) * 1000)
        end = at + (drawn if duration_ms is None else duration_ms)
        target, level = "", 0.0
        if kind is IncidentKind.GAS_LEAK:
            target = rng.choice([p.code for p in device.points if p.field == "LEL"])
        if kind in (IncidentKind.GAS_LEAK, IncidentKind.FUME_EXCEED, IncidentKind.DUST_EXCEED):
            level = round(rng.uniform(spec.low, spec.high), 2)
        return Incident(kind, device.mn, device.site, at, end, target=target, level=level)
