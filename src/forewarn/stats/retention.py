"""Retention of raw real-time data: kept ``rtd_retention_days``, then deleted in the background.

Why this way: real-time rows are most of the database, while regulators' statistics need only
the minutes, hours, days and months computed from them, which are kept. So once a time is
older than the retention and its minutes are computed (no range before it waits in the
aggregation's queue), its raw rows go, a few thousand at a time as writer jobs between the
commits of device data, so ingest never waits long for them. The mark ``rtd_retained_from_ms``
is raised before the first row goes: from then on the aggregation never computes a minute
before it again (it would see only part of its data), and keeps what it computed. Pages SQLite
frees are reused by new data (the file does not shrink without a VACUUM).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from forewarn.stats.aggregate import BUSY_SHARE
from forewarn.store import rtd_retention as store
from forewarn.store.writer import WriterClosed

__all__ = ["Retention"]

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
#: rows deleted per point and piece, and how long one job runs at most
ROWS_PER_PIECE = 2000
JOB_SECONDS = 0.05


class Retention:
    """One platform's retention: a pass every ``every_s``, done as a chain of short writer jobs."""

    def __init__(self, days: int, *, submit_job: Callable[[Callable[[Any], object]], None] | None = None,
                 clock: Callable[[], float] = time.time, every_s: float = 600.0,
                 rows_per_piece: int = ROWS_PER_PIECE, loop: asyncio.AbstractEventLoop | None = None,
                 busy: Callable[[], bool] = lambda: False) -> None:
        """``busy``: whether device data waits for the writer (then each piece is followed by a
        pause, as the aggregation's are: see ``stats.aggregate.BUSY_SHARE``)."""
        self.days = days
        self.loop = loop
        self.busy = busy
        self.rows_per_piece = rows_per_piece
        self.submit_job = submit_job
        self.clock = clock
        self.every_s = every_s
        self._cursor = 0  # the last point id done in this pass
        self._running = False
        #: rows deleted since start (writer thread)
        self.deleted = 0

    def cutoff_ms(self, db: sqlite3.Connection) -> int | None:
        """Raw data before this may go now (None: nothing may): older than the retention and not
        waiting to be aggregated; on a minute boundary."""
        if self.days <= 0:
            return None
        cutoff = int(self.clock() * 1000) - self.days * DAY_MS
        queued = store.oldest_queued_minute(db)
        if queued is not None:
            cutoff = min(cutoff, queued)
        return cutoff - cutoff % 60_000

    def step(self, db: sqlite3.Connection, seconds: float = JOB_SECONDS) -> bool:
        """One piece of the pass, in one transaction; True when more is left."""
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        try:
            more = self._step(db, started, seconds)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if not more:
            self._cursor = 0
        return more

    def _step(self, db: sqlite3.Connection, started: float, seconds: float) -> bool:
        cutoff = self.cutoff_ms(db)
        if cutoff is None:
            return False
        store.set_retained_from(db, cutoff)
        while True:  # at least one piece, then as many as the time allows
            points = store.point_ids_after(db, self._cursor, 200)
            if not points:
                return False
            for pid in points:
                deleted, left = store.delete_before(db, pid, cutoff, self.rows_per_piece)
                self.deleted += deleted
                if not left:
                    self._cursor = pid
                if left or time.perf_counter() - started >= seconds:
                    break  # a point with more left comes again in the next piece
            if time.perf_counter() - started >= seconds:
                return True

    def _job(self, db: sqlite3.Connection) -> None:
        started = time.perf_counter()
        if self.step(db) and self.submit_job is not None:
            if self.loop is not None and self.busy():
                pause = (time.perf_counter() - started) * (1 / BUSY_SHARE - 1)
                try:
                    self.loop.call_soon_threadsafe(self.loop.call_later, pause, self._resubmit)
                    return
                except RuntimeError:  # the loop is closed: stopping
                    pass
            else:
                self._resubmit()
                return
        self._running = False

    def _resubmit(self) -> None:
        assert self.submit_job is not None
        try:
            self.submit_job(lambda st: self._job(st.db))
        except WriterClosed:
            self._running = False

    async def run(self) -> None:
        """A pass at start and every ``every_s``; until cancelled."""
        assert self.submit_job is not None
        while True:
            if self.days > 0 and not self._running:
                self._running = True
                try:
                    self.submit_job(lambda st: self._job(st.db))
                except WriterClosed:
                    return
            await asyncio.sleep(self.every_s)
