"""The store interface and the records that cross it.

SQLite implements it for the embedded mode; PostgreSQL will implement the same interface and
pass the same test suite. Everything here is plain data, so that the pipeline can build a
batch on the event loop and hand it to the writer thread without sharing anything else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from forewarn.model import Kind

__all__ = [
    "DeviceInfo",
    "DeviceRow",
    "ImportResult",
    "IngestBatch",
    "PointRow",
    "QuarantinedPacket",
    "ReadingRecord",
    "RegionRow",
    "Rejection",
    "Store",
    "UnknownDevice",
]

#: One reading as the pipeline hands it to the store: code, sub-field, ts (ms), value, flag.
ReadingRow = tuple[str, str, int, float, str]


@dataclass(slots=True, frozen=True)
class RegionRow:
    """An administrative division: GB/T 2260 code, name, and the code of the one above it."""

    code: str
    name: str
    parent_code: str = ""


@dataclass(slots=True, frozen=True)
class DeviceRow:
    """One row of a registry import: a device with its site, enterprise and region."""

    region_code: str
    region_name: str
    enterprise: str
    site: str
    site_type: str
    mn: str
    parent_region_code: str = ""
    longitude: float | None = None
    latitude: float | None = None
    password: str = ""
    protocol: str = "hj212"
    interval_s: int = 60
    leniency: str = ""
    device_kind: str = ""
    site_status: str = "active"


@dataclass(slots=True, frozen=True)
class PointRow:
    """One row of a point import: what a (device, code, sub-field) measures."""

    mn: str
    code: str
    field: str
    name: str = ""
    quantity: str = ""
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    role: str = ""
    discovered: bool = False


@dataclass(slots=True)
class ImportResult:
    regions: int = 0
    enterprises: int = 0
    sites: int = 0
    devices_added: int = 0
    devices_updated: int = 0
    points_added: int = 0
    points_updated: int = 0


@dataclass(slots=True, frozen=True)
class DeviceInfo:
    """What the ingest path needs to know of a registered device, cached in memory."""

    id: int
    mn: str
    password: str
    interval_s: int
    leniency: frozenset[str]
    protocol: str


@dataclass(slots=True)
class ReadingBatch:
    """Readings of one device and one kind."""

    device_id: int
    kind: Kind
    rows: list[ReadingRow]


@dataclass(slots=True, frozen=True)
class QuarantinedPacket:
    mn: str
    received_ms: int
    raw: bytes
    crlf: bool
    peer: str = ""
    #: 'hj212' (a frame), or 'mqtt:<layout>' (an MQTT message's part for this MN, see protocols/mqtt/layouts)
    format: str = "hj212"


@dataclass(slots=True, frozen=True)
class Rejection:
    """``count`` rejections for one reason; the MN, detail and time are the last one's (the
    pipeline adds up a flood's rejections in memory and stores one row per reason)."""

    reason: str
    at_ms: int
    mn: str = ""
    detail: str = ""
    count: int = 1


@dataclass(slots=True)
class IngestBatch:
    """Everything one or more packets change in the store, written in one transaction."""

    readings: list[ReadingBatch] = field(default_factory=list)
    quarantine: list[QuarantinedPacket] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    quirks: Counter[tuple[int, str]] = field(default_factory=Counter)
    #: device id -> (first heard ms, last heard ms, packets)
    activity: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    #: quarantine rows to delete once their packets have been stored as readings
    claimed_quarantine: list[int] = field(default_factory=list)
    #: quarantine rows their registered device could not claim, with the reason
    refused_quarantine: list[tuple[int, str]] = field(default_factory=list)
    #: what the rule engine decided on these readings (forewarn.rules.events.RuleEvent)
    rule_events: list[Any] = field(default_factory=list)
    #: the engine state those decisions changed: (rule id, subject) -> JSON
    rule_states: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (device id, hour of receipt ms, kind) -> [packets, repeats, skew min, max, sum] (ms; skew =
    #: received - DataTime), for the screening (forewarn.protocols.hj212.ledger)
    packet_clock: dict[tuple[int, int, str], list[int]] = field(default_factory=dict)

    def row_count(self) -> int:
        return sum(len(r.rows) for r in self.readings)

    def merge(self, other: IngestBatch) -> None:
        self.readings.extend(other.readings)
        self.quarantine.extend(other.quarantine)
        self.rejections.extend(other.rejections)
        self.quirks.update(other.quirks)
        for device_id, (first, last, packets) in other.activity.items():
            self.note_activity(device_id, first, last, packets)
        self.counters.update(other.counters)
        self.claimed_quarantine.extend(other.claimed_quarantine)
        self.refused_quarantine.extend(other.refused_quarantine)
        self.rule_events.extend(other.rule_events)
        self.rule_states.update(other.rule_states)
        for key, (n, rep, lo, hi, total) in other.packet_clock.items():
            cell = self.packet_clock.get(key)
            if cell is None:
                self.packet_clock[key] = [n, rep, lo, hi, total]
            else:
                cell[0] += n
                cell[1] += rep
                cell[2] = min(cell[2], lo)
                cell[3] = max(cell[3], hi)
                cell[4] += total

    def note_packet(self, device_id: int, hour_ms: int, kind: str, skew_ms: int, repeat: bool) -> None:
        cell = self.packet_clock.get((device_id, hour_ms, kind))
        if cell is None:
            self.packet_clock[(device_id, hour_ms, kind)] = [1, int(repeat), skew_ms, skew_ms, skew_ms]
            return
        cell[0] += 1
        cell[1] += repeat
        if skew_ms < cell[2]:
            cell[2] = skew_ms
        if skew_ms > cell[3]:
            cell[3] = skew_ms
        cell[4] += skew_ms

    def note_activity(self, device_id: int, first: int, last: int, packets: int = 1) -> None:
        seen = self.activity.get(device_id)
        if seen is None:
            self.activity[device_id] = (first, last, packets)
        else:
            self.activity[device_id] = (min(seen[0], first), max(seen[1], last), seen[2] + packets)


@dataclass(slots=True, frozen=True)
class ReadingRecord:
    mn: str
    code: str
    field: str
    kind: Kind
    ts_ms: int
    value: float | None
    flag: str


@dataclass(slots=True, frozen=True)
class UnknownDevice:
    """An MN with packets in quarantine: unregistered, or registered but refused (``refused``)."""

    mn: str
    first_ms: int
    last_ms: int
    packets: int
    last_peer: str
    refused: str = ""


class Store(Protocol):
    """What the pipeline, the CLI and (later) the web layer need from storage."""

    def close(self) -> None: ...

    # registry
    def apply_registry(
        self, devices: list[DeviceRow], points: list[PointRow], regions: list[RegionRow] | None = None
    ) -> ImportResult: ...
    def export_regions(self) -> list[RegionRow]: ...
    def registry_version(self) -> int: ...
    def device_infos(self) -> dict[str, DeviceInfo]: ...
    def export_devices(self) -> list[DeviceRow]: ...
    def export_points(self) -> list[PointRow]: ...

    # ingest (called from one writer thread)
    def write(self, batch: IngestBatch) -> None: ...

    # queries
    def readings(
        self,
        mn: str,
        kind: Kind,
        code: str | None = None,
        from_ms: int | None = None,
        to_ms: int | None = None,
    ) -> Iterator[ReadingRecord]: ...
    def latest(self, kind: Kind = Kind.RTD, mn: str | None = None) -> list[ReadingRecord]: ...
    def series(
        self, point_id: int, kind: Kind, from_ms: int, to_ms: int, max_points: int
    ) -> list[tuple[int, float | None, str]]: ...
    def unknown_devices(self) -> list[UnknownDevice]: ...
    def quarantined(self, mn: str) -> list[tuple[int, int, bytes, bool]]:
        """The MN's quarantined HJ 212 frames: (id, received ms, raw, crlf)."""
    def quarantined_messages(self, mn: str) -> list[tuple[int, int, bytes, str]]:
        """The MN's other quarantined messages (MQTT): (id, received ms, raw, format)."""
    def quarantined_mns(self) -> set[str]: ...
    def quarantine_size(self) -> int: ...
    def status(self, now_ms: int, offline_after_intervals: float) -> dict[str, object]: ...
    def counters(self) -> dict[str, int]: ...
    def last_seen(self) -> dict[int, int]: ...

    # failures
    def is_transient(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised by this store, may pass if the same work is tried again
        (SQLite: busy or locked; PostgreSQL: a lost connection, a serialization failure or
        deadlock, a server shutting down or out of connections). The writer retries those
        and fails fast on the rest."""

