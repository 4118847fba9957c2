"""The in-process bus: the embedded mode's, with the same semantics as NATS JetStream.

A :class:`MemoryBroker` plays the NATS server: it numbers events (the stream sequence), drops a
copy of an event id published within the duplicate window, and keeps each durable consumer's
place and unacknowledged events. A :class:`MemoryBus` is one client's connection to it; closing
one and opening another on the same broker is what a process restart is to NATS, so the
contract suite runs the same tests on both.

Two differences, both because nothing outside the process can be listening: the broker keeps
an event only for the durable consumers that exist when it is published (a durable sees the
events from its first start on, and with none nothing is kept, so the embedded platform's
readings cost no memory), and its log of unconsumed events is bounded (``max_events``, the
oldest dropped first, as JetStream's limits do).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from forewarn.bus.base import BusClosed, Delivery, DeliveryHandler, LiveHandler, subject_matches
from forewarn.bus.dedup import Deduper
from forewarn.bus.events import Event, subject_of

__all__ = ["MemoryBroker", "MemoryBus"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    seq: int
    subject: str
    event: Event
    attempt: int = 1


@dataclass(slots=True)
class _Durable:
    """One durable consumer of one subject: what is still to deliver, shared by its workers."""

    pending: deque[_Entry] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryBroker:
    """The state the in-process bus's connections share (the NATS server's part)."""

    def __init__(self, *, duplicate_window: int = 10_000, max_events: int = 100_000) -> None:
        self.seq = 0
        self.max_events = max_events
        self._ids = Deduper(duplicate_window)
        self._durables: dict[tuple[str, str], _Durable] = {}
        self._live: list[_Live] = []

    def publish(self, subject: str, event: Event) -> None:
        if not self._listened(subject):  # nobody in the process could ever get it: nothing to keep
            self.seq += 1
            return
        if not self._ids.first_time(event.id):
            return
        self.seq += 1
        for live in self._live:
            if subject_matches(live.pattern, subject):
                live.queue.put_nowait(event)
        for (_, pattern), durable in self._durables.items():
            if subject_matches(pattern, subject):
                if len(durable.pending) >= self.max_events:
                    durable.pending.popleft()
                durable.pending.append(_Entry(self.seq, subject, event))
                durable.wake.set()

    def _listened(self, subject: str) -> bool:
        return any(subject_matches(live.pattern, subject) for live in self._live) or any(
            subject_matches(pattern, subject) for _, pattern in self._durables)

    def durable(self, name: str, pattern: str) -> _Durable:
        return self._durables.setdefault((name, pattern), _Durable())


class _Live:
    """A live subscription to one subject pattern: its own queue and task, in order."""

    def __init__(self, pattern: str, handler: LiveHandler) -> None:
        self.pattern = pattern
        self.handler = handler
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                result = self.handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("a bus listener failed on %s", type(event).__name__)


class _Subscription:
    def __init__(self, bus: MemoryBus, tasks: list[asyncio.Task[None]], lives: list[_Live]) -> None:
        self._bus = bus
        self._tasks = tasks
        self._lives = lives

    async def close(self) -> None:
        for live in self._lives:
            with contextlib.suppress(ValueError):
                self._bus.broker._live.remove(live)
            self._tasks.append(live.task)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._lives.clear()
        with contextlib.suppress(ValueError):
            self._bus._subscriptions.remove(self)


class MemoryBus:
    """One connection to a :class:`MemoryBroker` (its own broker when none is given)."""

    def __init__(self, broker: MemoryBroker | None = None, *, partitions: int = 16) -> None:
        self.broker = broker or MemoryBroker()
        self.partitions = partitions
        self._closed = False
        self._subscriptions: list[_Subscription] = []

    async def publish(self, event: Event) -> None:
        if self._closed:
            raise BusClosed("the bus is closed")
        self.broker.publish(subject_of(event, self.partitions), event)

    async def publish_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await self.publish(event)

    async def subscribe(self, subjects: Sequence[str], handler: LiveHandler) -> _Subscription:
        if self._closed:
            raise BusClosed("the bus is closed")
        lives = [_Live(pattern, handler) for pattern in subjects]
        self.broker._live.extend(lives)
        sub = _Subscription(self, [], lives)
        self._subscriptions.append(sub)
        return sub

    async def consume(self, name: str, subjects: Sequence[str], handler: DeliveryHandler) -> _Subscription:
        if self._closed:
            raise BusClosed("the bus is closed")
        tasks = [asyncio.create_task(self._work(self.broker.durable(name, pattern), handler)) for pattern in subjects]
        sub = _Subscription(self, tasks, [])
        self._subscriptions.append(sub)
        return sub

    async def _work(self, durable: _Durable, handler: DeliveryHandler) -> None:
        """One worker of a durable: take the next event, hand it over, ack by dropping it."""
        while True:
            while not durable.pending:
                durable.wake.clear()
                await durable.wake.wait()
            entry = durable.pending.popleft()
            try:
                await handler(Delivery(entry.event, entry.seq, entry.attempt, entry.subject))
            except asyncio.CancelledError:
                durable.pending.appendleft(entry)  # not acked: the next worker under this name gets it
                durable.wake.set()
                raise
            except Exception:
                log.exception("a bus consumer failed on event %d; it is delivered again", entry.seq)
                entry.attempt += 1
                durable.pending.appendleft(entry)
                await asyncio.sleep(0.05)  # not a hot loop on a handler that keeps failing

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subscriptions):
            await sub.close()
