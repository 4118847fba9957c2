"""The bus port: what every implementation (in-process, NATS JetStream) offers and promises.

Two ways to listen, because the platform has two kinds of listeners:

- a **live subscription** (:meth:`Bus.subscribe`) gets every event published from now on in
  its subjects, acknowledges nothing and is forgotten when it closes: the live stream of a web
  process, a registry reload trigger;
- a **durable consumer** (:meth:`Bus.consume`) has a name under which the bus remembers how far
  it got. Each event is acknowledged once its handler returns; one whose handler raised, or
  whose process died before the ack, is delivered again. Several workers consuming under one
  name share the events (each goes to one of them), and a worker opening the name again, in a
  new process or after a reconnect, resumes after the last acknowledged event. Delivery is
  at least once: :class:`forewarn.bus.dedup.Idempotent` turns it into exactly-once effects.

Subjects are written below the bus's prefix (``readings.3``, ``registry``; see
:mod:`forewarn.bus.events`); ``*`` matches one token and ``>`` the rest, as in NATS.
:meth:`Bus.publish` returns once the bus holds the event (for NATS, the JetStream PubAck): an
event whose publish returned survives the publisher's crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import msgspec

from forewarn.bus.events import Event

__all__ = ["Bus", "BusClosed", "BusUnavailable", "Delivery", "DeliveryHandler", "LiveHandler", "Subscription",
           "subject_matches"]


class BusUnavailable(Exception):
    """The bus cannot be reached (NATS does not answer); worded for the person running forewarn."""


class BusClosed(Exception):
    """The bus was closed while a publish or a subscription still waited on it."""


class Delivery(msgspec.Struct, frozen=True):
    """One event handed to a durable consumer: its stream sequence and how often it came."""

    event: Event
    #: the bus's sequence of the message that carried the event (NATS: the stream sequence)
    seq: int
    #: 1 the first time, more when it is delivered again (a handler failed, a worker died)
    attempt: int = 1
    subject: str = ""
    #: the event's place in its message (NATS sends a commit's events of one subject together):
    #: (seq, index) is unique per published event
    index: int = 0


LiveHandler = Callable[[Event], Awaitable[None] | None]
DeliveryHandler = Callable[[Delivery], Awaitable[None]]


class Subscription(Protocol):
    async def close(self) -> None:
        """Stop listening; a durable consumer keeps its place for the next one under its name."""
        ...


class Bus(Protocol):
    #: readings subjects per device: ``readings.<device id % partitions>``
    partitions: int

    async def publish(self, event: Event) -> None:
        """Return once the bus holds ``event`` (retrying through reconnects until it does).

        Raises :class:`BusClosed` if the bus is closed before that."""
        ...

    async def publish_many(self, events: Sequence[Event]) -> None:
        """:meth:`publish` for several events, sent in order without waiting between them."""
        ...

    async def subscribe(self, subjects: Sequence[str], handler: LiveHandler) -> Subscription:
        """Call ``handler`` with every event published from now on in ``subjects``."""
        ...

    async def consume(self, name: str, subjects: Sequence[str], handler: DeliveryHandler) -> Subscription:
        """Hand the events of ``subjects`` to ``handler`` under the durable consumer ``name``.

        Acknowledged when ``handler`` returns; delivered again when it raises or its worker
        dies first. Workers under one name share the events."""
        ...

    async def close(self) -> None:
        """Stop every subscription and refuse further publishes."""
        ...


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` one or more at the end."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)
