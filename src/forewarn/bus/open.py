"""The bus a setting names: ``memory://`` (one process) or ``nats://HOST:PORT`` (JetStream)."""

from __future__ import annotations

from typing import Any

from forewarn.bus.base import Bus, BusUnavailable
from forewarn.bus.memory import MemoryBus

__all__ = ["open_bus"]


async def open_bus(url: str, *, partitions: int = 16, **nats_options: Any) -> Bus:
    """Connect to the bus at ``url``; :class:`BusUnavailable` (one line) if NATS does not answer.

    ``nats_options`` go to :meth:`forewarn.bus.nats.NatsBus.connect` (stream, prefix, ack_wait_s...)."""
    if url.startswith("memory://"):
        return MemoryBus(partitions=partitions)
    if url.startswith(("nats://", "tls://")):
        from forewarn.bus.nats import NatsBus  # nats-py is only imported where it is used

        return await NatsBus.connect(url, partitions=partitions, **nats_options)
    raise BusUnavailable(f"the bus must be memory:// or nats://HOST:PORT, not {url!r}")
