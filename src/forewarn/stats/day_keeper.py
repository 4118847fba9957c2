"""Keeping each finished day's online and running times, in the background of a running platform.

The figures read a month's online rate by time and facility run rate from kept days
(``stats.runtime``, migration 0018); a day not kept is computed from the raw readings when
asked, which for a city's month is far too slow, and impossible once retention has deleted the
raw data. So a running platform keeps them itself: a pass at start and every ``every_s``, done
as a chain of short writer jobs (each at most ``JOB_SECONDS``), so the writer never holds device
data up for long. A pass looks at the days from ``keep_days`` ago (the first one) or from the
last day it found complete, and computes only the device- and site-days not kept yet.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from forewarn.sites.view import SiteView
from forewarn.stats import runtime
from forewarn.store import stats_reads
from forewarn.store.writer import WriterClosed

__all__ = ["DayKeeper"]

log = logging.getLogger(__name__)

JOB_SECONDS = 0.05
_DAY = 86_400_000


class DayKeeper:
    """One platform's keeping of finished days (writer jobs; state on the writer thread)."""

    def __init__(self, view: SiteView, *, submit_job: Callable[[Callable[[Any], object]], None],
                 clock: Callable[[], float] = time.time, every_s: float = 600.0, keep_days: int = 40) -> None:
        self.view = view
        self.submit_job = submit_job
        self.clock = clock
        self.every_s = every_s
        self.keep_days = keep_days
        self._from_ms: int | None = None  # the first day the next pass looks at
        self._next_from: int | None = None
        self._days: list[tuple[int, int]] | None = None  # the pass's days still to look at
        self._todo: list[tuple[str, int, int, int]] | None = None  # the day's (kind, id, day start, day end)
        self._running = False
        #: device-days and site-days kept since start (writer thread)
        self.kept = 0

    def _plan(self, now_ms: int) -> list[tuple[int, int]]:
        """The finished days this pass looks at, the newest last."""
        tz = self.view.tz
        since = self._from_ms or runtime.local_midnight(now_ms - self.keep_days * _DAY, tz)
        days = [(a, b) for a, b in runtime.local_days(since, now_ms + 2 * _DAY, tz) if b <= now_ms]
        if days:
            self._next_from = days[-1][1]  # once this pass is done, the next starts where its days end
        days.reverse()  # popped from the end: oldest first
        return days

    def _day(self, db: sqlite3.Connection, a: int, b: int) -> list[tuple[str, int, int, int]]:
        """What one day still needs kept (a day at a time: a city's 40 days are 400,000 device-days)."""
        online = stats_reads.kept_days(db, "device_online_days", a, b)
        todo = [("device", d, a, b) for d, _, registered in stats_reads.active_devices(db)
                if b > registered and (d, a) not in online]
        if self.view.rules() is not None:
            facility = stats_reads.kept_days(db, "facility_days", a, b)
            todo += [("site", s, a, b) for s in stats_reads.live_site_ids(db) if (s, a) not in facility]
        todo.reverse()
        return todo

    def step(self, db: sqlite3.Connection, seconds: float = JOB_SECONDS) -> bool:
        """One piece of the pass, in one transaction; True when more is left."""
        started = time.perf_counter()
        now = int(self.clock() * 1000)
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._days is None:
                self._days = self._plan(now)
            rules = self.view.rules()
            points: dict[int, list[int]] | None = None
            intervals: dict[int, int] | None = None
            first = True
            while first or time.perf_counter() - started < seconds:  # at least one a piece
                first = False
                if not self._todo:
                    if not self._days:
                        break
                    self._todo = self._day(db, *self._days.pop())
                    continue
                kind, ident, a, b = self._todo.pop()
                if kind == "device":
                    if points is None or intervals is None:
                        points = stats_reads.points_by_device(db)
                        intervals = {d: i for d, i, _ in stats_reads.active_devices(db)}
                    ms = runtime.online_ms(db, points.get(ident, []), intervals.get(ident, 60),
                                           self.view.offline_after_intervals, a, b)
                    stats_reads.keep_online_day(db, ident, a, ms, now)
                else:
                    f = runtime.facility_times(db, ident, a, b, self.view, rules)
                    stats_reads.keep_facility_day(
                        db, ident, a, (f.production_ms, f.treatment_with_ms, f.fan_ms, f.purifier_with_ms), now)
                self.kept += 1
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._days = self._todo = None
            raise
        if not self._todo and not self._days:
            self._days = self._todo = None
            self._from_ms = self._next_from or self._from_ms
            return False
        return True

    def _job(self, db: sqlite3.Connection) -> None:
        try:
            more = self.step(db)
        except Exception:
            log.exception("keeping the days' online and running times failed; tried again next pass")
            more = False
        if more:
            try:
                self.submit_job(lambda st: self._job(st.db))
                return
            except WriterClosed:
                pass
        self._running = False

    async def run(self) -> None:
        """A pass at start and every ``every_s``; until cancelled."""
        while True:
            if not self._running:
                self._running = True
                try:
                    self.submit_job(lambda st: self._job(st.db))
                except WriterClosed:
                    return
            await asyncio.sleep(self.every_s)
