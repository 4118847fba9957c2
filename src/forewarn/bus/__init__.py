"""The bus: what one forewarn process tells the others (readings committed, alarm steps,
registry and rule changes, device status), in-process or over NATS JetStream (base.py)."""

from forewarn.bus.base import Bus, BusClosed, BusUnavailable, Delivery, Subscription
from forewarn.bus.dedup import Deduper, Idempotent
from forewarn.bus.events import (
    AlarmStep,
    DeviceStatus,
    Event,
    ReadingsCommitted,
    RegistryChanged,
    RulesChanged,
    readings_subjects,
)
from forewarn.bus.memory import MemoryBroker, MemoryBus
from forewarn.bus.open import open_bus

__all__ = [
    "AlarmStep",
    "Bus",
    "BusClosed",
    "BusUnavailable",
    "Deduper",
    "Delivery",
    "DeviceStatus",
    "Event",
    "Idempotent",
    "MemoryBroker",
    "MemoryBus",
    "ReadingsCommitted",
    "RegistryChanged",
    "RulesChanged",
    "Subscription",
    "open_bus",
    "readings_subjects",
]
