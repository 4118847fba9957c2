"""Telling running platforms, from a one-shot command, that the registry changed.

``forewarn registry import`` (and the other commands that change the registry) run in their
own process and commit in the store; a platform notices by polling every ``registry_poll_s``.
With a NATS bus the command also publishes :class:`RegistryChanged`, so every platform reloads
at once. It is fire and forget within a short timeout: the change is committed whatever
happens here, and a platform that was not told still finds it at its next poll, so a NATS that
is away costs a warning line, never the command's success.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from forewarn.bus.base import BusClosed, BusUnavailable
from forewarn.bus.events import RegistryChanged
from forewarn.bus.open import open_bus
from forewarn.config import Settings

__all__ = ["announce_registry_change"]

log = logging.getLogger(__name__)


def announce_registry_change(settings: Settings, version: Callable[[], int], *, timeout_s: float = 2.0) -> bool:
    """Publish the registry's ``version()`` on a NATS bus; False (and a warning) if it could not be."""
    if not settings.bus.startswith(("nats://", "tls://")):
        return False  # memory://: no other process could be listening
    event = RegistryChanged(version=version())

    async def send() -> None:
        bus = await open_bus(settings.bus, partitions=settings.bus_partitions, connect_timeout_s=timeout_s / 2)
        try:
            await asyncio.wait_for(bus.publish(event), timeout_s)
        finally:
            await bus.close()

    try:
        asyncio.run(asyncio.wait_for(send(), timeout_s * 2))
    except (BusUnavailable, BusClosed, TimeoutError, OSError) as exc:
        log.warning("running platforms were not told of registry version %d (%s); they find it within "
                    "registry_poll_s", event.version, exc or "NATS did not acknowledge in time")
        return False
    return True
