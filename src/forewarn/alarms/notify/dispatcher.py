"""The dispatcher: delivers what the outbox holds, concurrently, and records each outcome.

It runs as one task on the event loop and never blocks it: outbox reads are short indexed
queries, sends are asynchronous (e-mail runs on its channel's threads), and outcomes go to
the single writer through ``run_write``, never written from here. So ingest, which shares the
loop and the writer, is never slowed by a receiver, however slow or dead.

Isolation between receivers: due rows are read channel by channel, and each channel has at
most ``per_channel_concurrency`` deliveries in flight, so a receiver that accepts and never
answers holds its own slots until its timeout and nobody else's. Every attempt is bounded by
its channel's deadline.

No row is sent twice at once: a row picked for delivery stays claimed, in memory, until the
reader sees its attempt count go up (its outcome committed), because the writer may commit
some time after the send finished. Delivery is at least once: a send whose outcome could not
be recorded (a crash, a stop) is sent again later, with the same event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from forewarn.alarms.notify import outbox
from forewarn.alarms.notify.channels import Channel, DeliveryError, open_channel
from forewarn.alarms.notify.config import NotifyConfig
from forewarn.alarms.notify.outbox import OutboxItem
from forewarn.logs import Throttle

__all__ = ["Dispatcher", "RunWrite"]

log = logging.getLogger(__name__)

#: Runs a function on the writer's connection in a transaction of its own, some time later.
RunWrite = Callable[[Callable[[sqlite3.Connection], object]], None]

#: A finished delivery whose outcome the reader has not seen after this long is released: its
#: write was lost (it failed, or the writer stopped) and the row will simply be sent again.
_OUTCOME_VISIBLE_WITHIN_S = 60.0


@dataclass(slots=True)
class _Claim:
    channel: str
    attempts: int  # the row's attempts when it was picked
    finished_at: float | None = None  # loop time when the send ended


class Dispatcher:
    """Delivers due outbox rows until cancelled; ``wake()`` makes it look at once."""

    def __init__(
        self,
        read_db: sqlite3.Connection,
        run_write: RunWrite,
        config: NotifyConfig,
        *,
        clock: Callable[[], float] = time.time,
        concurrency: int = 8,
        poll_s: float = 1.0,
    ) -> None:
        self.read_db = read_db
        self.run_write = run_write
        self.config = config
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.poll_s = poll_s
        self.delivered = 0
        self.failed = 0
        self.given_up = 0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._claims: dict[int, _Claim] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: Counter[str] = Counter()
        self._channels: dict[str, Channel] = {}
        self._throttle = Throttle(log)
        self._turn = 0

    def wake(self) -> None:
        """Look for due rows now, not at the next poll; callable from any thread.

        Call it after the transaction that enqueued has committed (the dispatcher reads
        committed rows only); before ``run()`` starts it is remembered.
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

    async def run(self) -> None:
        """Deliver until cancelled; on cancellation, sends in flight are abandoned (sent again later)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        workers = self.config.delivery.per_channel_concurrency
        known = list(self.config.channels)
        now_ms = self._now_ms()
        try:
            self.run_write(lambda db: outbox.give_up_stranded(db, known, now_ms))
        except Exception as exc:
            log.warning("could not give up notifications of channels no longer configured: %s", exc)
        # httpx logs every request's full URL at INFO, and an SMS gateway's URL holds its API key:
        # unless someone chose a level for it, keep it to warnings.
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
                    self._fill()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_s)
            finally:
                tasks = list(self._tasks)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                for channel in self._channels.values():
                    channel.close()

    def _fill(self) -> None:
        """Start deliveries for due rows, channel by channel, within the slots free."""
        self._release_recorded()
        now_ms = self._now_ms()
        per_channel = self.config.delivery.per_channel_concurrency
        order = list(self._channels.items())
        self._turn = (self._turn + 1) % max(len(order), 1)  # no channel always first for the last slots
        for name, channel in order[self._turn:] + order[:self._turn]:
            free = min(per_channel - self._in_flight[name], self.concurrency - len(self._tasks))
            if free <= 0:
                continue
            claimed = [i for i, c in self._claims.items() if c.channel == name]
            try:
                items = outbox.due(self.read_db, now_ms, free, channel=name, exclude_ids=claimed)
            except sqlite3.Error as exc:
                self._throttle.warning("notify:read", "cannot read the notification outbox: %s", exc)
                return
            for item in items:
                self._start(channel, item)

    def _start(self, channel: Channel, item: OutboxItem) -> None:
        self._claims[item.id] = _Claim(item.channel, item.attempts)
        self._in_flight[item.channel] += 1
        task = asyncio.create_task(self._deliver(channel, item), name=f"notify-{item.id}")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, item))

    def _finished(self, task: asyncio.Task[None], item: OutboxItem) -> None:
        self._tasks.discard(task)
        self._in_flight[item.channel] -= 1
        claim = self._claims.get(item.id)
        if claim is not None:
            claim.finished_at = asyncio.get_running_loop().time()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivering notification %d failed unexpectedly", item.id, exc_info=task.exception())
        self._wake.set()  # a slot is free

    def _release_recorded(self) -> None:
        """Forget claims whose outcome the reader now sees (or that waited too long for it)."""
        finished = {i: c for i, c in self._claims.items() if c.finished_at is not None}
        if not finished:
            return
        try:
            attempts = outbox.pending_attempts(self.read_db, list(finished))
        except sqlite3.Error:
            return
        now = asyncio.get_running_loop().time()
        for item_id, claim in finished.items():
            seen = attempts.get(item_id)
            if seen is None or seen > claim.attempts:
                del self._claims[item_id]
            elif claim.finished_at is not None and now - claim.finished_at > _OUTCOME_VISIBLE_WITHIN_S:
                log.warning("the outcome of notification %d was never recorded; it will be sent again",
                            item_id)
                del self._claims[item_id]

    async def _deliver(self, channel: Channel, item: OutboxItem) -> None:
        try:
            notice = item.notice()
        except ValueError as exc:
            self._record_failure(item, str(exc), give_up=True)
            return
        try:
            await asyncio.wait_for(channel.send(notice, item.id), channel.deadline_s)
        except DeliveryError as exc:
            self._record_failure(item, str(exc))
            return
        except TimeoutError:
            self._record_failure(item, f"not done within {channel.deadline_s:g} s; abandoned")
            return
        except Exception as exc:  # a channel's bug must not stop the others; the row is retried
            log.exception("channel %s failed on notification %d", channel.name, item.id)
            self._record_failure(item, f"{type(exc).__name__}: {exc}")
            return
        now_ms = self._now_ms()
        self.delivered += 1
        self._write(item, lambda db: outbox.mark_delivered(db, item.id, now_ms))

    def _record_failure(self, item: OutboxItem, error: str, *, give_up: bool = False) -> None:
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
        self._write(item, lambda db: outbox.mark_failed(db, item.id, now_ms, error, retry_at))

    def _write(self, item: OutboxItem, fn: Callable[[sqlite3.Connection], object]) -> None:
        try:
            self.run_write(fn)
        except Exception as exc:  # e.g. the writer is closing: the row stays due and is sent again
            log.warning("could not record the outcome of notification %d: %s", item.id, exc)
