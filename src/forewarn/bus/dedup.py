"""Exactly-once effects over at-least-once delivery: remember what was handled, skip it again.

The bus delivers an event again when its handler failed, when a worker died before its ack
reached the bus, when a publisher retried after a lost PubAck beyond the duplicate window, or
when NATS restarted before it had written a consumer's acks. Every such copy has the same
event id (derived from the fact, :mod:`forewarn.bus.events`), so a consumer whose effects are
not idempotent by themselves wraps its handler in :class:`Idempotent`: the first delivery of an
id runs the handler, later ones within the window are acknowledged without running it. An id is
remembered only after the handler returned, so a handler that failed runs again.

The window is a count of ids, not a time: memory is bounded whatever the rate, and a copy comes
within seconds of its original (a redelivery after ``ack_wait``, a retry after a reconnect).
Effects that must survive the consumer's own restart are best made idempotent in the store
(first-write-wins for readings, one open alarm per rule and subject), for which this is the
cheap first line.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from forewarn.bus.base import Delivery
from forewarn.bus.events import Event

__all__ = ["Deduper", "Idempotent"]


class Deduper:
    """The last ``size`` keys seen, oldest forgotten first."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._seen

    def add(self, key: str) -> None:
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def first_time(self, key: str) -> bool:
        """True (and remembered) the first time ``key`` is offered within the window."""
        if key in self._seen:
            return False
        self.add(key)
        return True


class Idempotent:
    """A durable consumer's handler that runs once per event id; copies are acked and counted."""

    def __init__(self, handler: Callable[[Event], Awaitable[None]], size: int = 100_000) -> None:
        self.handler = handler
        self.seen = Deduper(size)
        #: deliveries skipped as copies of an event already handled
        self.duplicates = 0

    async def __call__(self, delivery: Delivery) -> None:
        key = delivery.event.id
        if key in self.seen:
            self.duplicates += 1
            return
        await self.handler(delivery.event)  # raises: not remembered, delivered again
        self.seen.add(key)
