"""When each device was last heard, for a process that hears no device itself.

The rule engine's silence check ("no data for N intervals") reads ``Pipeline.last_seen``,
which the pipeline keeps from the batches it submits. A rules worker without the ingest role
submits none: its view would stop at start-up, and after a few intervals every device of
the fleet would be announced silent while the ingest processes store their data. So such a
process reads the devices' activity the ingest processes commit (``Store.last_seen``) every
few seconds, on a reader thread, and moves its view forward (never back).

This polling is the stopgap until the bus carries device status (forewarn.bus's DeviceStatus
is defined, not yet published by ingest); docs/scale.md says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["follow_activity"]

log = logging.getLogger(__name__)


async def follow_activity(last_seen: dict[int, int], read: Callable[[], Awaitable[dict[int, int]]],
                          every_s: float) -> None:
    """Until cancelled: ``await read()`` (a query on a reader thread) every ``every_s``, and
    ``last_seen`` moved forward to what it says."""
    while True:
        await asyncio.sleep(every_s)
        try:
            heard = await read()
        except Exception:  # the store away for a moment: the next round tries again
            log.exception("reading the devices' activity failed; will retry")
            continue
        for device_id, at in heard.items():
            if at > last_seen.get(device_id, 0):
                last_seen[device_id] = at
