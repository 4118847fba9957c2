"""Incidents: the out-of-the-ordinary things a demo fleet does so that the platform has work.

An incident is plain data (what, which device, when, how strong). The value models read it
to bend their output (a gas detector that reads 40 %LEL, a treatment meter that reads zero),
the packet builder reads it to go quiet or send a broken frame, and the planner creates it.
Keeping it as data, not behaviour, is what lets one test check each kind in isolation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MALFORMED_VARIANTS", "Incident", "IncidentKind", "active"]

#: The two ways a malformed packet is broken: a frame whose CRC is wrong, or line noise.
MALFORMED_VARIANTS = ("bad_crc", "garbage")


class IncidentKind(StrEnum):
    """What goes wrong; the value is the key of its settings in profiles.toml [incidents]."""

    GAS_LEAK = "gas_leak"  # a combustible-gas detector reads 25-60 %LEL
    TREATMENT_OFF = "treatment_off"  # treatment meters read ~0 while production runs
    DUST_EXCEED = "dust_exceed"  # PM10 (and the TSP that follows it) far above the limits
    FUME_EXCEED = "fume_exceed"  # oil fume above the 2.0 mg/m3 national limit
    PURIFIER_OFF = "purifier_off"  # a kitchen's fan runs with its purifier switched off
    SILENT = "silent"  # the device sends nothing
    MALFORMED = "malformed"  # one broken packet (bad CRC or garbage bytes)


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident on one device, active over ``[start_ms, end_ms)``.

    ``target`` narrows it: the detector tag for a gas leak (``GD2``), the variant for a
    malformed packet (``bad_crc`` or ``garbage``); empty means the whole device. ``level``
    is the value it forces (``%LEL`` for a leak, ug/m3 PM10 for dust, mg/m3 for fume), 0 when
    it forces none.
    """

    kind: IncidentKind
    mn: str
    site: str
    start_ms: int
    end_ms: int
    target: str = ""
    level: float = 0.0

    def active_at(self, ms: int) -> bool:
        """Whether the incident is under way at ``ms``."""
        return self.start_ms <= ms < self.end_ms

    def describe(self) -> str:
        """One log line for when it starts: kind, device, site, what it does, how long."""
        minutes = (self.end_ms - self.start_ms) / 60_000
        what = {
            IncidentKind.GAS_LEAK: f"detector {self.target} reads ~{self.level:.0f} %LEL",
            IncidentKind.TREATMENT_OFF: "treatment equipment off while production runs",
            IncidentKind.DUST_EXCEED: f"PM10 ~{self.level:.0f} ug/m3, TSP above 0.8 mg/m3",
            IncidentKind.FUME_EXCEED: f"oil fume ~{self.level:.1f} mg/m3 (limit 2.0)",
            IncidentKind.PURIFIER_OFF: "exhaust fan runs with the purifier off",
            IncidentKind.SILENT: "device stops sending",
            IncidentKind.MALFORMED: f"one malformed packet ({self.target})",
        }[self.kind]
        span = "" if self.kind is IncidentKind.MALFORMED else f" for {minutes:.1f} min"
        return f"incident {self.kind.value}: MN={self.mn} site={self.site}: {what}{span}"


def active(
    incidents: Iterable[Incident], ms: int, kind: IncidentKind, mn: str | None = None
) -> Iterator[Incident]:
    """The incidents of ``kind`` (on device ``mn`` if given) under way at ``ms``."""
    for incident in incidents:
        if incident.kind is kind and incident.active_at(ms) and (mn is None or incident.mn == mn):
            yield incident
