"""The in-process fan-out of live events: one publisher (the event loop), many subscribers.

Each subscriber has its own bounded queue. Publishing never waits: an event is offered to
every subscriber whose filter accepts it, and a subscriber whose queue is full is *dropped*
(closed with a reason) rather than allowed to slow the publisher, ingest or the other
subscribers down. A dashboard that falls that far behind reconnects and reads the current
state from the REST API; a stream that silently skipped events would show a wrong picture.

The interface is deliberately small (:class:`LiveHub`: publish, subscribe, unsubscribe, close)
so that a NATS-backed hub can replace this one when the platform runs as several processes.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from forewarn.access.scope import Scope

__all__ = [
    "DEFAULT_MAX_QUEUE",
    "EVENT_TYPES",
    "Hub",
    "LiveEvent",
    "LiveFilter",
    "LiveHub",
    "Subscription",
    "SubscriptionClosed",
]

#: events a subscriber may hold before it is dropped
DEFAULT_MAX_QUEUE = 1000
#: the kinds of events on the stream
EVENT_TYPES = frozenset({"readings", "device", "alarm"})


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event: what scope filtering needs, and the payload already serialised.

    The JSON is made once at publishing, not once per subscriber: fan-out then costs a filter
    check and a deque append per subscriber.
    """

    type: str
    site_id: int | None
    region_code: str | None
    enterprise_id: int | None
    #: the payload as JSON text (it carries ``"type"`` too)
    data: str

    @classmethod
    def of(cls, type: str, payload: dict[str, Any], *, site_id: int | None, region_code: str | None,
           enterprise_id: int | None) -> LiveEvent:
        text = json.dumps({"type": type, **payload}, ensure_ascii=False, separators=(",", ":"))
        return cls(type, site_id, region_code, enterprise_id, text)


@dataclass(frozen=True, slots=True)
class LiveFilter:
    """What one subscriber receives: its user's scope (always applied) and its own choice."""

    scope: Scope
    types: frozenset[str] = EVENT_TYPES
    #: a region prefix (see :func:`forewarn.access.scope.region_prefix`); None: every region
    region_prefix: str | None = None
    site_id: int | None = None

    def accepts(self, event: LiveEvent) -> bool:
        # the scope first: whatever the subscriber asked for, nothing outside it passes
        if not self.scope.allows_site(event.region_code, event.enterprise_id):
            return False
        if event.type not in self.types:
            return False
        if self.site_id is not None and event.site_id != self.site_id:
            return False
        return self.region_prefix is None or (event.region_code or "").startswith(self.region_prefix)


class SubscriptionClosed(Exception):
    """The subscription ended: dropped for being too slow, or the hub closed."""

    def __init__(self, reason: str, dropped: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dropped = dropped


class Subscription:
    """One subscriber's bounded queue. Read it with :meth:`next` on the event loop."""

    def __init__(self, live_filter: LiveFilter, max_queue: int) -> None:
        self.filter = live_filter
        self.max_queue = max_queue
        self._items: deque[LiveEvent] = deque()
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()
        #: why it ended (None: still open)
        self.reason: str | None = None
        self.dropped = False

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, event: LiveEvent) -> bool:
        """Queue ``event`` unless the queue is full (then False: the hub drops the subscriber)."""
        if len(self._items) >= self.max_queue:
            return False
        self._items.append(event)
        self._wake.set()
        return True

    def close(self, reason: str, *, dropped: bool = False) -> None:
        """End the subscription; what it still held is discarded (a dropped client reconnects
        and reads the current state, it gains nothing from a stale backlog)."""
        if self.reason is not None:
            return
        self.reason = reason
        self.dropped = dropped
        self._items.clear()
        self._wake.set()
        self._closed.set()

    async def wait_closed(self) -> str:
        """Wait until the subscription ends; its reason. (A sender blocked on a slow socket
        does not see the end by itself: the handler waits for this beside it.)"""
        await self._closed.wait()
        return self.reason or ""

    async def next(self, timeout: float | None = None) -> LiveEvent | None:
        """The next event; None when ``timeout`` passes first (time for a heartbeat).

        Raises :class:`SubscriptionClosed` once the subscription has ended.
        """
        while True:
            if self.reason is not None:
                raise SubscriptionClosed(self.reason, self.dropped)
            if self._items:
                return self._items.popleft()
            self._wake.clear()
            if timeout is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    return None


class LiveHub(Protocol):
    """What the producers and the web layer need from a hub (in-process today, NATS later)."""

    @property
    def dropped_total(self) -> int: ...

    def subscriber_count(self) -> int: ...

    def has_subscribers(self) -> bool: ...

    def publish(self, event: LiveEvent) -> None: ...

    def subscribe(self, live_filter: LiveFilter) -> Subscription: ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    def close(self, reason: str) -> None: ...


class Hub:
    """The in-process hub: publishing is non-blocking O(subscribers) work on the event loop."""

    def __init__(self, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        if max_queue < 1:
            raise ValueError("a subscriber's queue must hold at least one event")
        #: the queue size of subscriptions made from now on (tests make it small)
        self.max_queue = max_queue
        self._subscribers: dict[Subscription, None] = {}  # insertion-ordered set
        self._dropped = 0
        self._closed = False

    @property
    def dropped_total(self) -> int:
        """Subscribers dropped since start because their queue overflowed."""
        return self._dropped

    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def has_subscribers(self) -> bool:
        """Producers skip building events nobody would receive."""
        return bool(self._subscribers)

    def publish(self, event: LiveEvent) -> None:
        full: list[Subscription] = []
        for sub in self._subscribers:
            if sub.filter.accepts(event) and not sub.offer(event):
                full.append(sub)
        for sub in full:
            self._dropped += 1
            del self._subscribers[sub]
            sub.close(f"too slow: more than {sub.max_queue} events waiting; reconnect and reload the current state",
                      dropped=True)

    def subscribe(self, live_filter: LiveFilter) -> Subscription:
        sub = Subscription(live_filter, self.max_queue)
        if self._closed:
            sub.close("the platform is stopping")
        else:
            self._subscribers[sub] = None
        return sub

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.pop(subscription, None)
        subscription.close("unsubscribed")

    def close(self, reason: str) -> None:
        """End every subscription (the platform stops): streams end so the HTTP server can stop."""
        self._closed = True
        subs, self._subscribers = list(self._subscribers), {}
        for sub in subs:
            sub.close(reason)
