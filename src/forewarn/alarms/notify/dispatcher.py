"""The dispatcher: claims due outbox rows, delivers them concurrently, records each outcome.

Several dispatchers may run over one database (``forewarn serve --role notify`` on two
machines) and still never send one notice twice at once: a row is taken for delivery by a
**claim** in the database (:mod:`forewarn.store.notice_outbox`), one atomic statement that
marks due rows as this dispatcher's (``owner``, an id per process) until a lease time. Only
the claimant sends; its outcome (delivered, or failed and scheduled for retry, or given up)
releases the claim in the statement that records it; the outcomes of the sends that finished
while the dispatcher was busy are recorded together, in one transaction (one commit a round,
not one a notice). A claim outlives a dispatcher only until
its lease: rows a dispatcher held when it died are taken again by another once the lease has
passed. The lease is the channel's whole-attempt deadline plus a margin, so a live dispatcher
always finishes (or abandons) a send and records it before its claim can be taken from it.

Delivery is therefore at least once, not exactly once: a dispatcher that dies after the
receiver took a notice but before its "delivered" commits leaves a claim that expires, and the
row is sent again. No claim can close that gap, since the send and the commit are in two
systems. Channels carry the row id so receivers can recognise the repeat: the webhook's event
id header and body field, the e-mail's Message-ID; an SMS gateway has no such key, so a phone
may get that message twice (never zero times).

The event loop is never blocked: every outbox call runs on this dispatcher's own database
thread (one, so its calls keep their order), sends are asynchronous (e-mail runs on its
channel's threads), and no call goes through the platform's writer, so ingest, which shares
the loop and the writer, is never slowed by a receiver, however slow or dead.

Isolation between receivers: rows are claimed channel by channel, and each channel has at
most ``per_channel_concurrency`` deliveries in flight, so a receiver that accepts and never
answers holds its own slots until its deadline and nobody else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from forewarn.alarms.notify.channels import Channel, DeliveryError, open_channel
from forewarn.alarms.notify.config import NotifyConfig
from forewarn.alarms.notify.outbox import notice_of
from forewarn.logs import Throttle
from forewarn.store.notice_outbox import NoticeOutbox, OutboxError, OutboxItem, Outcome

__all__ = ["Dispatcher", "dispatcher_id"]

log = logging.getLogger(__name__)

#: A claim holds for the channel's deadline plus this: the time to record the outcome after an
#: attempt abandoned at its deadline (a database busy for seconds, a connection reopened).
LEASE_MARGIN_S = 30.0
#: How often rows of channels no dispatcher's file names are looked for (see _give_up_stranded).
STRANDED_EVERY_S = 60.0

T = TypeVar("T")


def dispatcher_id() -> str:
    """An id for this process's claims: the host and pid say who it was, the random part makes
    a restarted process with the same pid someone else (its predecessor's claims just expire)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


class Dispatcher:
    """Delivers due outbox rows until cancelled; ``wake()`` makes it look at once.

    The dispatcher owns ``outbox`` and closes it when :meth:`run` ends.
    """

    def __init__(
        self,
        outbox: NoticeOutbox,
        config: NotifyConfig,
        *,
        clock: Callable[[], float] = time.time,
        concurrency: int = 8,
        poll_s: float = 1.0,
        owner: str | None = None,
        lease_s: float | None = None,
    ) -> None:
        """``owner``: this dispatcher's id in claims (default: :func:`dispatcher_id`);
        ``lease_s``: how long a claim holds (default: each channel's deadline plus
        :data:`LEASE_MARGIN_S`; shorter than a deadline lets a slow send be taken over and
        repeated, so only tests shorten it).
        """
        self.outbox = outbox
        self.config = config
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.poll_s = poll_s
        self.owner = owner or dispatcher_id()
        self.lease_s = lease_s
        self.delivered = 0
        self.failed = 0
        self.given_up = 0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._db_thread: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[OutboxItem, Outcome]] = []  # finished sends, not yet recorded
        self._stranded_checked_ms = 0
        self._in_flight: Counter[str] = Counter()
        self._channels: dict[str, Channel] = {}
        self._throttle = Throttle(log)
        self._turn = 0

    def wake(self) -> None:
        """Look for due rows now, not at the next poll; callable from any thread.

        Call it after the transaction that enqueued has committed (the dispatcher claims
        committed rows only); before ``run()`` starts it is remembered. Dispatchers in other
        processes find the rows at their next poll.
        """
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            self._wake.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the database thread, awaited (the loop goes on meanwhile)."""
        assert self._db_thread is not None
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, functools.partial(fn, *args))

    async def run(self) -> None:
        """Deliver until cancelled; on cancellation, sends in flight are abandoned and this
        dispatcher's claims released, so another dispatcher (or the next start) sends them."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="forewarn-notify-db")
        workers = self.config.delivery.per_channel_concurrency
        try:
            await self._give_up_stranded()
            # httpx logs every request's full URL at INFO, and an SMS gateway's URL holds its API
            # key: unless someone chose a level for it, keep it to warnings.
            httpx_log = logging.getLogger("httpx")
            if httpx_log.level == logging.NOTSET:
                httpx_log.setLevel(logging.WARNING)
            # trust_env=False: no proxy from the environment; receivers are addressed as configured.
            async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
                self._channels = {
                    name: open_channel(cfg, client, workers) for name, cfg in self.config.channels.items()
                }
                try:
                    while True:
                        self._wake.clear()
                        await self._fill()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.poll_s)
                finally:
                    await self._abandon()
        finally:
            with contextlib.suppress(Exception):
                await self._call(self.outbox.close)
            self._db_thread.shutdown(wait=False)

    async def _abandon(self) -> None:
        """Stop the sends in flight and give their rows back at once (not after the lease)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush(last=True)  # what was delivered must not be released and sent again
        try:
            released = await self._call(self.outbox.release, self.owner)
        except OutboxError as exc:
            log.warning("could not release this dispatcher's notification claims (they expire): %s", exc)
        else:
            if released:
                log.info("released %d notifications being sent; they will be sent again", released)
        for channel in self._channels.values():
            channel.close()

    def _lease_ms(self, channel: Channel) -> int:
        lease_s = self.lease_s if self.lease_s is not None else channel.deadline_s + LEASE_MARGIN_S
        return int(lease_s * 1000)

    async def _give_up_stranded(self) -> None:
        """Give up rows of channels this dispatcher's file lacks once they are older than the
        delivery policy lets any notice be (it would have given them up by then anyway); younger
        ones may be another dispatcher's, whose file names their channel. At start, then every
        :data:`STRANDED_EVERY_S`."""
        now_ms = self._now_ms()
        self._stranded_checked_ms = now_ms
        too_old_ms = now_ms - int(self.config.delivery.give_up_after_s * 1000)
        try:
            given_up = await self._call(self.outbox.give_up_stranded, list(self.config.channels), now_ms, too_old_ms)
        except OutboxError as exc:
            log.warning("could not give up notifications of channels no longer configured: %s", exc)
            return
        if given_up:
            log.warning("gave up %d notifications of channels no notification file names any more "
                        "(queued over %.0f h ago)", given_up, self.config.delivery.give_up_after_s / 3600)

    async def _fill(self) -> None:
        """Record the finished sends' outcomes, then claim and start due rows, channel by
        channel, within the slots free."""
        await self._flush()
        if self._now_ms() - self._stranded_checked_ms >= STRANDED_EVERY_S * 1000:
            await self._give_up_stranded()
        per_channel = self.config.delivery.per_channel_concurrency
        order = list(self._channels.items())
        self._turn = (self._turn + 1) % max(len(order), 1)  # no channel always first for the last slots
        for name, channel in order[self._turn:] + order[:self._turn]:
            free = min(per_channel - self._in_flight[name], self.concurrency - len(self._tasks))
            if free <= 0:
                continue
            now_ms = self._now_ms()
            try:
                items = await self._call(
                    self.outbox.claim_due, self.owner, name, now_ms, free, now_ms + self._lease_ms(channel)
                )
            except OutboxError as exc:
                self._throttle.warning("notify:claim", "cannot claim from the notification outbox: %s", exc)
                return
            for item in items:
                self._start(channel, item)

    def _start(self, channel: Channel, item: OutboxItem) -> None:
        self._in_flight[item.channel] += 1
        task = asyncio.create_task(self._deliver(channel, item), name=f"notify-{item.id}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, item))

    def _finished(self, task: asyncio.Task[None], item: OutboxItem) -> None:
        self._tasks.discard(task)
        self._in_flight[item.channel] -= 1
        if not task.cancelled() and task.exception() is not None:
            log.error("delivering notification %d failed unexpectedly", item.id, exc_info=task.exception())
        self._wake.set()  # a slot is free

    async def _deliver(self, channel: Channel, item: OutboxItem) -> None:
        try:
            notice = notice_of(item)
        except ValueError as exc:
            self._failed(item, str(exc), give_up=True)
            return
        try:
            await asyncio.wait_for(channel.send(notice, item.id), channel.deadline_s)
        except DeliveryError as exc:
            self._failed(item, str(exc))
            return
        except TimeoutError:
            self._failed(item, f"not done within {channel.deadline_s:g} s; abandoned")
            return
        except Exception as exc:  # a channel's bug must not stop the others; the row is retried
            log.exception("channel %s failed on notification %d", channel.name, item.id)
            self._failed(item, f"{type(exc).__name__}: {exc}")
            return
        # The receiver has it. Should this process die before the outcome commits (the next
        # round), the claim expires and another dispatcher sends the row again, with the same
        # id: at least once.
        self.delivered += 1
        self._outcomes.append((item, Outcome(item.id, self._now_ms(), delivered=True)))

    def _failed(self, item: OutboxItem, error: str, *, give_up: bool = False) -> None:
        now_ms = self._now_ms()
        attempts = item.attempts + 1
        policy = self.config.delivery
        retry_at = None if give_up else policy.next_attempt_ms(attempts, item.created_ms, now_ms)
        error = error[:500]
        if retry_at is None:
            self.given_up += 1
            self._throttle.warning(
                f"notify-gave-up:{item.channel}",
                "gave up notification %d (alarm %d, %s) to channel %s after %d attempts: %s",
                item.id, item.alarm_id, item.event, item.channel, attempts, error,
            )
        else:
            self.failed += 1
            self._throttle.warning(
                f"notify-failed:{item.channel}",
                "notification %d to channel %s failed (attempt %d, next in %.0f s): %s",
                item.id, item.channel, attempts, (retry_at - now_ms) / 1000, error,
            )
        self._outcomes.append((item, Outcome(item.id, now_ms, False, error, retry_at)))

    async def _flush(self, *, last: bool = False) -> None:
        """Record the outcomes of the sends finished since the last round, in one transaction
        (one commit for many sends); until then their rows stay claimed, so none is sent again.

        Outcomes that cannot be written (the database restarting) are kept and written at the
        next round: the rows are still this dispatcher's (a delivered one is recorded whoever
        holds it by then), so a database back within the lease repeats nothing. The list stays
        small meanwhile, since no claim, hence no send, succeeds either. Only at the ``last``
        flush (stopping) are they given up: those rows are sent again after their lease.
        """
        if not self._outcomes:
            return
        batch, self._outcomes = self._outcomes, []
        try:
            written = await self._call(self.outbox.record, self.owner, [outcome for _, outcome in batch])
        except OutboxError as exc:
            if last:
                log.warning("could not record the outcome of %d notifications (each is sent again once its "
                            "claim expires): %s", len(batch), exc)
            else:
                self._outcomes[:0] = batch
                self._throttle.warning("notify:record", "cannot record %d notification outcomes yet (kept, "
                                       "tried again): %s", len(batch), exc)
            return
        for (item, outcome), ok in zip(batch, written, strict=True):
            if not ok and not outcome.delivered:
                log.info("notification %d was taken over by another dispatcher (its claim here had expired); "
                         "its outcome is that dispatcher's to record", item.id)
