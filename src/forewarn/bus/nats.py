"""The bus over NATS JetStream: several processes, several machines, nothing lost on a restart.

Everything lives in one stream (``FOREWARN`` over ``forewarn.>``), created or updated at
connect: file storage, a max age (24 h by default: a consumer away longer than that has lost
its place) and a duplicate window. Each publish carries its event id as ``Nats-Msg-Id``, so a
retry after a lost PubAck, or the same fact published by two processes, is stored once.

- **publish** waits for the PubAck and retries, with backoff, through disconnects and NATS
  restarts until it has one (or the bus is closed): never dropped silently; the retries carry
  the same id, so consumers never see them twice. :meth:`NatsBus.publish_many` sends a batch
  pipelined in order and waits for all of its acks, which keeps a subject's order except when
  a retry follows a reconnect.
- **durable consumers** are pull consumers, one per (name, subject) so that a worker can own
  any set of readings partitions (NATS 2.9 filters a consumer by one subject) and another can
  take one of them over where it stood. Explicit acks after the handler returns; a handler
  that raises gets a nak and the event again; an event whose ack never came is delivered again
  after ``ack_wait_s``. Workers of one name pull from the same consumer and so share it.
- **live subscriptions** are ephemeral pull consumers starting after the stream's last event
  at the moment of subscribing: new events only, no ack. When NATS restarts and forgets one, it
  is created again from the event after the last one it delivered, so a live listener misses
  nothing over a restart either (within the stream's max age).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from forewarn.bus.base import BusClosed, BusUnavailable, Delivery, DeliveryHandler, LiveHandler
from forewarn.bus.dedup import Deduper
from forewarn.bus.events import Event, EventDecodeError, ReadingsCommitted, decode_many, encode_many, subject_of

__all__ = ["NatsBus"]

log = logging.getLogger(__name__)

#: errors after which a publish or a fetch is simply tried again (NATS away or restarting)
_PASSING = (nats.errors.TimeoutError, TimeoutError, nats.errors.ConnectionClosedError,
            nats.errors.NoRespondersError, nats.errors.OutboundBufferLimitError,
            nats.js.errors.NoStreamResponseError, nats.errors.ConnectionReconnectingError,
            nats.errors.StaleConnectionError, nats.js.errors.ServiceUnavailableError)
_BACKOFF_MAX_S = 2.0
#: most events, and readings, in one message (NATS refuses a message over 1 MB by default)
BUNDLE_EVENTS = 256
BUNDLE_ROWS = 4000


class NatsBus:
    """One connection to NATS JetStream; build it with :meth:`connect`."""

    def __init__(self, nc: Client, *, stream: str, prefix: str, partitions: int, ack_timeout_s: float,
                 ack_wait_s: float, max_age_s: float, duplicate_window_s: float, fetch_batch: int) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream(timeout=ack_timeout_s)
        self.stream = stream
        self.prefix = prefix
        self.partitions = partitions
        self.ack_timeout_s = ack_timeout_s
        self.ack_wait_s = ack_wait_s
        self.max_age_s = max_age_s
        self.duplicate_window_s = duplicate_window_s
        self.fetch_batch = fetch_batch
        self._closed = False
        self._subscriptions: list[_Puller] = []
        #: publishes that had to be tried again (NATS away, a PubAck lost)
        self.publish_retries = 0

    @classmethod
    async def connect(cls, url: str, *, stream: str = "FOREWARN", prefix: str = "forewarn", partitions: int = 16,
                      connect_timeout_s: float = 2.0, ack_timeout_s: float = 2.0, ack_wait_s: float = 30.0,
                      max_age_s: float = 86400.0, duplicate_window_s: float = 120.0, fetch_batch: int = 64) -> NatsBus:
        """Connect and create (or update) the stream; :class:`BusUnavailable` if NATS does not answer."""

        async def on_error(exc: Exception) -> None:
            log.debug("NATS: %s", exc)

        closing: list[NatsBus] = []

        async def on_disconnect() -> None:
            if closing and closing[0]._closed:
                return
            log.warning("lost the connection to NATS at %s; reconnecting (publishes wait)", url)

        async def on_reconnect() -> None:
            log.info("reconnected to NATS at %s", url)

        try:
            # nats-py retries a first connection for ever when reconnects are unlimited: ask once first
            await _probe(url, connect_timeout_s)
            nc = await asyncio.wait_for(nats.connect(
                servers=[url], connect_timeout=connect_timeout_s, allow_reconnect=True, max_reconnect_attempts=-1,
                reconnect_time_wait=0.25, ping_interval=5, max_outstanding_pings=2, error_cb=on_error,
                disconnected_cb=on_disconnect, reconnected_cb=on_reconnect,
            ), connect_timeout_s * 2)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise BusUnavailable(f"NATS at {url} does not answer ({type(exc).__name__}: {exc or 'no reply'}); "
                                 "start nats-server -js, or set bus = \"memory://\" for one process") from None
        bus = cls(nc, stream=stream, prefix=prefix, partitions=partitions, ack_timeout_s=ack_timeout_s,
                  ack_wait_s=ack_wait_s, max_age_s=max_age_s, duplicate_window_s=duplicate_window_s,
                  fetch_batch=fetch_batch)
        closing.append(bus)
        try:
            await bus._ensure_stream()
        except (TimeoutError, nats.js.errors.Error, nats.errors.Error) as exc:
            await nc.close()
            raise BusUnavailable(f"NATS at {url} answers but JetStream does not ({exc}); start nats-server "
                                 "with -js") from None
        return bus

    async def _ensure_stream(self) -> None:
        config = StreamConfig(name=self.stream, subjects=[f"{self.prefix}.>"], storage=StorageType.FILE,
                              max_age=self.max_age_s, duplicate_window=self.duplicate_window_s)
        try:
            await self._js.add_stream(config)
        except nats.js.errors.BadRequestError:  # it exists with other limits: ours apply from now on
            await self._js.update_stream(config)

    def _subject(self, event: Event) -> str:
        return f"{self.prefix}.{subject_of(event, self.partitions)}"

    async def publish(self, event: Event) -> None:
        await self.publish_many([event])

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Send ``events`` in order without waiting between them; return when all are acked.

        Events of one subject travel together, up to :data:`BUNDLE_EVENTS` (and
        :data:`BUNDLE_ROWS` readings) a message: a commit of 200 devices is 16 messages, not 200.
        A message of one event carries that event's id as ``Nats-Msg-Id`` (the same fact from
        two processes is stored once); a bundle the ids of its events, hashed (its retries are)."""
        waiting = [(subject, encode_many(bundle), {"Nats-Msg-Id": _bundle_id(bundle)})
                   for subject, bundle in self._bundles(events)]
        delay = 0.05
        while waiting:
            if self._closed:
                raise BusClosed(f"the bus closed with {len(waiting)} events not acknowledged by NATS")
            futures: list[asyncio.Future[Any]] = []
            try:
                for n, (subject, data, headers) in enumerate(waiting):
                    futures.append(await self._js.publish_async(subject, data, headers=dict(headers)))
                    if n % 32 == 31:
                        await asyncio.sleep(0)  # a long batch must not hold the loop that answers devices
            except _PASSING:
                pass
            if futures:
                await asyncio.wait(futures, timeout=self.ack_timeout_s)  # one timer for the batch, not one each
            failed: list[tuple[str, bytes, dict[str, str]]] = []
            for item, future in zip(waiting, futures, strict=False):
                if not future.done():
                    future.cancel()
                    failed.append(item)
                    continue
                exc = future.exception()
                if exc is None:
                    continue
                if isinstance(exc, _PASSING) or (isinstance(exc, nats.js.errors.APIError) and exc.code == 503):
                    failed.append(item)  # NATS away, or JetStream not ready yet after a restart
                else:
                    raise exc
            failed += waiting[len(futures):]
            if failed:
                self.publish_retries += len(failed)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
            waiting = failed

    def _bundles(self, events: Sequence[Event]) -> list[tuple[str, list[Event]]]:
        by_subject: dict[str, list[list[Event]]] = {}
        rows: dict[str, int] = {}
        for event in events:
            subject = self._subject(event)
            bundles = by_subject.setdefault(subject, [[]])
            size = len(event.rows) if isinstance(event, ReadingsCommitted) else 1
            if len(bundles[-1]) >= BUNDLE_EVENTS or (bundles[-1] and rows.get(subject, 0) + size > BUNDLE_ROWS):
                bundles.append([])
                rows[subject] = 0
            bundles[-1].append(event)
            rows[subject] = rows.get(subject, 0) + size
        return [(subject, bundle) for subject, bundles in by_subject.items() for bundle in bundles]

    async def subscribe(self, subjects: Sequence[str], handler: LiveHandler) -> _Group:
        self._check_open()
        info = await self._retrying(lambda: self._js.stream_info(self.stream))
        last = info.state.last_seq

        async def deliver(msg: Msg, event: Event, index: int) -> None:
            result = handler(event)
            if inspect.isawaitable(result):
                await result

        pullers = [_Puller(self, f"{self.prefix}.{s}", None, deliver, start_after=last) for s in subjects]
        return self._start(pullers)

    async def consume(self, name: str, subjects: Sequence[str], handler: DeliveryHandler) -> _Group:
        self._check_open()

        async def deliver(msg: Msg, event: Event, index: int) -> None:
            meta = msg.metadata
            subject = msg.subject.removeprefix(f"{self.prefix}.")
            await handler(Delivery(event, meta.sequence.stream, meta.num_delivered, subject, index))

        pullers = [_Puller(self, f"{self.prefix}.{s}", _durable_name(name, s), deliver) for s in subjects]
        return self._start(pullers)

    def _start(self, pullers: list[_Puller]) -> _Group:
        for puller in pullers:
            puller.start()
        self._subscriptions += pullers
        return _Group(self, pullers)

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("the bus is closed")

    async def _retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        delay = 0.05
        while True:
            self._check_open()
            try:
                return await call()
            except _PASSING:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)

    async def close(self) -> None:
        self._closed = True
        for puller in list(self._subscriptions):
            await puller.stop()
        with contextlib.suppress(Exception):
            await self._nc.drain()
        with contextlib.suppress(Exception):
            await self._nc.close()


async def _probe(url: str, timeout_s: float) -> None:
    """Raise OSError or TimeoutError unless something listens at the URL's host and port."""
    parts = urlsplit(url)
    _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222),
                                       timeout_s)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _bundle_id(bundle: list[Event]) -> str:
    if len(bundle) == 1:
        return bundle[0].id
    return "m." + hashlib.blake2b("\n".join(e.id for e in bundle).encode(), digest_size=16).hexdigest()


def _durable_name(name: str, subject: str) -> str:
    """One consumer per (name, subject); NATS allows letters, digits, - and _ in its name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{name}-{subject}".replace("*", "all").replace(">", "rest"))


class _Group:
    """What subscribe and consume return: their pullers, stopped together."""

    def __init__(self, bus: NatsBus, pullers: list[_Puller]) -> None:
        self._bus = bus
        self._pullers = pullers

    async def close(self) -> None:
        for puller in self._pullers:
            await puller.stop()


class _Puller:
    """One pull consumer and the task that fetches from it, (re)creating it when NATS lost it."""

    def __init__(self, bus: NatsBus, subject: str, durable: str | None,
                 deliver: Callable[[Msg, Event, int], Awaitable[None]], *, start_after: int = 0) -> None:
        self.bus = bus
        self.subject = subject
        self.durable = durable
        self.deliver = deliver
        #: live only: the stream sequence of the last event delivered (or the stream's end at start)
        self.last_seq = start_after
        self._seen = Deduper(10_000) if durable is None else None
        self._task: asyncio.Task[None] | None = None
        self._sub: JetStreamContext.PullSubscription | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop_sub()
        with contextlib.suppress(ValueError):
            self.bus._subscriptions.remove(self)

    async def _drop_sub(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    def _config(self) -> ConsumerConfig:
        if self.durable is not None:
            return ConsumerConfig(durable_name=self.durable, name=self.durable, filter_subject=self.subject,
                                  ack_policy=AckPolicy.EXPLICIT, ack_wait=self.bus.ack_wait_s,
                                  deliver_policy=DeliverPolicy.ALL, max_ack_pending=20_000)
        return ConsumerConfig(filter_subject=self.subject, ack_policy=AckPolicy.NONE, inactive_threshold=60.0,
                              deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.last_seq + 1,
                              mem_storage=True)

    async def _bind(self) -> JetStreamContext.PullSubscription:
        js = self.bus._js
        info = await js.add_consumer(self.bus.stream, self._config())
        return await js.pull_subscribe_bind(durable=self.durable, stream=self.bus.stream, name=info.name)

    async def _run(self) -> None:
        delay = 0.05
        idle = 0
        while True:
            try:
                if self._sub is None:
                    self._sub = await self._bind()
                msgs = await self._sub.fetch(self.bus.fetch_batch, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                idle += 1
                if idle >= 5:  # quiet for a while: make sure NATS still has the consumer
                    idle = 0
                    await self._check_consumer()
                continue
            except (*_PASSING, nats.js.errors.Error) as exc:
                log.debug("fetching %s: %s; again in %.2f s", self.subject, exc, delay)
                await self._drop_sub()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)
                continue
            delay = 0.05
            idle = 0
            for msg in msgs:
                await self._handle(msg)

    async def _check_consumer(self) -> None:
        if self._sub is None:
            return
        try:
            await self._sub.consumer_info()
        except nats.js.errors.NotFoundError:
            await self._drop_sub()
        except (*_PASSING, nats.js.errors.Error):
            pass

    async def _handle(self, msg: Msg) -> None:
        try:
            events = decode_many(msg.data)
        except EventDecodeError as exc:
            log.warning("dropped a message on %s: %s", msg.subject, exc)
            if self.durable is not None:
                await _quietly(msg.term())
            return
        if self.durable is None:  # live: no ack, but a copy after a consumer was recreated is skipped
            self.last_seq = max(self.last_seq, msg.metadata.sequence.stream)
            assert self._seen is not None
            for index, event in enumerate(events):
                if not self._seen.first_time(event.id):
                    continue
                try:
                    await self.deliver(msg, event, index)
                except Exception:
                    log.exception("a bus listener failed on %s", type(event).__name__)
            return
        for index, event in enumerate(events):
            try:
                await self.deliver(msg, event, index)
            except Exception:  # the whole message again: its events handled already come again too
                log.exception("a bus consumer failed on event %d.%d of %s; it is delivered again",
                              msg.metadata.sequence.stream, index, msg.subject)
                await _quietly(msg.nak(delay=0.1))
                return
        await _quietly(msg.ack())


async def _quietly(ack: Awaitable[None]) -> None:
    """An ack lost with the connection is no error: the event comes again and is deduplicated."""
    with contextlib.suppress(*_PASSING, nats.errors.Error):
        await ack
