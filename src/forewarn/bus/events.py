"""What one forewarn process tells the others, as typed events with a stable wire encoding.

Every event is a msgspec Struct tagged by its ``type`` and carrying the encoding's version
``v``, encoded as msgpack: compact for readings, and readable by any msgpack library should a
tool outside forewarn want to listen. A consumer meeting a newer ``v`` than it knows still
decodes the fields it knows (msgspec ignores unknown fields), so processes of two releases can
share one bus during an upgrade.

Each event has an :attr:`id` derived only from the fact it reports (what was committed, which
alarm step, which registry version): publishing the same fact twice, from a retry or from two
processes, gives the same id, so the NATS duplicate window and the consumers' dedup helper
(:mod:`forewarn.bus.dedup`) can drop the copy. The subject an event travels on is
:func:`subject_of`; readings are partitioned by device so that one worker can own a share of
the devices (``forewarn.readings.<device id % partitions>``).
"""

from __future__ import annotations

import hashlib

import msgspec

__all__ = [
    "ALARMS",
    "READINGS",
    "REGISTRY",
    "RULES",
    "STATUS",
    "WIRE_VERSION",
    "AlarmStep",
    "DeviceStatus",
    "Event",
    "EventDecodeError",
    "ReadingsCommitted",
    "RegistryChanged",
    "RulesChanged",
    "decode",
    "decode_many",
    "encode",
    "encode_many",
    "partition_of",
    "readings_subjects",
    "subject_of",
]

#: the version of the wire encoding this code writes
WIRE_VERSION = 1

#: subjects (below the bus's prefix, ``forewarn.`` by default)
READINGS = "readings"
ALARMS = "alarms"
REGISTRY = "registry"
RULES = "rules"
STATUS = "status"

#: one committed reading: code, sub-field, ts (ms), value, flag (as the store's ReadingRow)
Row = tuple[str, str, int, float, str]


class ReadingsCommitted(msgspec.Struct, frozen=True, kw_only=True, tag="readings", tag_field="type"):
    """Readings of one device and one kind, in a transaction that committed."""

    device_id: int
    mn: str
    kind: str
    rows: list[Row]
    v: int = WIRE_VERSION

    @property
    def id(self) -> str:
        # the rows themselves, not a counter: the same batch published again has the same id
        digest = hashlib.blake2b(msgspec.msgpack.encode(self.rows), digest_size=12).hexdigest()
        return f"r.{self.device_id}.{self.kind}.{digest}"


class AlarmStep(msgspec.Struct, frozen=True, kw_only=True, tag="alarm_step", tag_field="type"):
    """One step of an alarm's course (fired, acknowledged, escalated, closed, ...)."""

    step_id: int
    alarm_id: int
    step: str
    at_ms: int
    actor: str = ""
    site_id: int | None = None
    device_id: int | None = None
    level: int | None = None
    v: int = WIRE_VERSION

    @property
    def id(self) -> str:
        return f"a.{self.step_id}"


class RegistryChanged(msgspec.Struct, frozen=True, kw_only=True, tag="registry", tag_field="type"):
    """The registry's version moved: devices, points or sites were imported or edited."""

    version: int
    v: int = WIRE_VERSION

    @property
    def id(self) -> str:
        return f"g.{self.version}"


class RulesChanged(msgspec.Struct, frozen=True, kw_only=True, tag="rules", tag_field="type"):
    """The rule files in force changed; ``digest`` names their contents."""

    digest: str
    v: int = WIRE_VERSION

    @property
    def id(self) -> str:
        return f"u.{self.digest}"


class DeviceStatus(msgspec.Struct, frozen=True, kw_only=True, tag="status", tag_field="type"):
    """A device came online or went offline at ``at_ms``."""

    device_id: int
    online: bool
    at_ms: int
    v: int = WIRE_VERSION

    @property
    def id(self) -> str:
        return f"s.{self.device_id}.{int(self.online)}.{self.at_ms}"


Event = ReadingsCommitted | AlarmStep | RegistryChanged | RulesChanged | DeviceStatus


class EventDecodeError(ValueError):
    """Bytes on the bus that are not an event this code knows (a foreign publisher, a newer type)."""


_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Event] = msgspec.msgpack.Decoder(Event)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes) -> Event:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise EventDecodeError(f"not a forewarn event: {exc}") from None


_many_decoder: msgspec.msgpack.Decoder[list[Event]] = msgspec.msgpack.Decoder(list[Event])


def encode_many(events: list[Event]) -> bytes:
    """Several events of one subject as one message (a msgpack array): one NATS message, one
    PubAck and one ack for a whole commit's devices of a partition, instead of one each."""
    return _encoder.encode(events)


def decode_many(data: bytes) -> list[Event]:
    """The events of one message: an array of them, or (a single publisher's form) one."""
    try:
        return _many_decoder.decode(data) if data[:1] and data[0] & 0xF0 == 0x90 or data[:1] in (b"\xdc", b"\xdd") \
            else [_decoder.decode(data)]
    except msgspec.DecodeError as exc:
        raise EventDecodeError(f"not forewarn events: {exc}") from None


def partition_of(device_id: int, partitions: int) -> int:
    """The readings partition a device's events travel on (stable: a device never moves)."""
    return device_id % partitions


def subject_of(event: Event, partitions: int) -> str:
    """The subject (below the bus's prefix) an event is published on."""
    if isinstance(event, ReadingsCommitted):
        return f"{READINGS}.{partition_of(event.device_id, partitions)}"
    if isinstance(event, AlarmStep):
        return ALARMS
    if isinstance(event, RegistryChanged):
        return REGISTRY
    if isinstance(event, RulesChanged):
        return RULES
    return STATUS


def readings_subjects(partitions: int, chosen: set[int] | None = None) -> list[str]:
    """The readings subjects of the chosen partitions (all of them when None)."""
    wanted = range(partitions) if chosen is None else sorted(p for p in chosen if 0 <= p < partitions)
    return [f"{READINGS}.{p}" for p in wanted]
