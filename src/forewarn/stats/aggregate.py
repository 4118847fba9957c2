"""forewarn's own minute, hour, day and month values, computed from real-time data in the
background.

Why here and how: regulators judge hours, days and months (valid when enough of their parts
are valid: DOMAIN.md section 4), devices report such values of their own that may disagree,
and data keeps changing after it arrives (late data, audit marks). So every change queues the
time range it touches (``store.aggregates.mark_dirty``), and the aggregator computes exactly
the periods those ranges touch, as small jobs on the single writer thread between its
transactions (never racing a write, never holding device data up for long):

- new real-time readings are noted on the event loop in a set of (device, code, field,
  minute) (a set insertion per reading, nothing else), and the set is handed to the writer
  every ``aggregate_every_s`` as one job;
- minutes are computed from ``readings_rtd`` (values flagged N and not marked invalid in audit
  are valid; those above the point's upper limit, as the rule engine judges it, are over);
- hours, days and months are combined from the stored minutes, hours and days; an hour still
  open is queued to be combined once, when it ends, rather than at each new minute.

The arithmetic is SQL (``store.aggregates``: sqlite3 releases the GIL while it runs, so the
event loop parsing device frames keeps its core), tested on worked examples.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.config import Settings
from forewarn.model import Kind, Period
from forewarn.rules.catalog import RuleCatalog
from forewarn.rules.limits import Limit, point_limits
from forewarn.rules.model import RuleSet
from forewarn.stats.periods import PARENT, next_start, span
from forewarn.store import aggregates as store
from forewarn.store.aggregates import PointFacts
from forewarn.store.audit_marks import invalid_ranges
from forewarn.store.base import IngestBatch
from forewarn.store.rtd_retention import retained_from
from forewarn.store.writer import WriterClosed

__all__ = ["Aggregator", "Thresholds", "queue_recompute", "upper_limit"]

log = logging.getLogger(__name__)

RulesInForce = tuple[RuleSet, RuleCatalog] | None
#: most of one point's range computed in one piece (a longer one is put back for the next)
SLICE_MS = 86_400_000
#: a job runs this long at most before it commits and lets device data in
JOB_SECONDS = 0.02
#: while devices are sending, aggregation takes at most this share of the writer's time
#: (what is left is done when ingest leaves time: the work is queued in the store, never lost)
BUSY_SHARE = 0.05
#: device data committed this recently means ingest is going on (a saturated writer's queue is
#: often empty for an instant, between two group commits: it alone says too little)
INGEST_ACTIVE_S = 1.0
#: how long a device's list of points is used before it is read again (discovered points)
POINTS_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a period is valid and when it is flagged N (settings, with their sources there)."""

    hour_valid_minutes: int = 45
    day_valid_hours: int = 20
    month_valid_days: int = 27
    month_valid_days_february: int = 25
    flag_n_share: float = 0.75

    @classmethod
    def of(cls, s: Settings) -> Thresholds:
        return cls(s.hour_valid_minutes, s.day_valid_hours, s.month_valid_days, s.month_valid_days_february,
                   s.flag_n_share)

    def parts_needed(self, period: Period, start_ms: int, tz: ZoneInfo) -> int:
        if period is Period.HOUR:
            return self.hour_valid_minutes
        if period is Period.DAY:
            return self.day_valid_hours
        if period is Period.MONTH:
            february = datetime.fromtimestamp(start_ms / 1000, tz).month == 2
            return self.month_valid_days_february if february else self.month_valid_days
        return 1


def upper_limit(rules: RulesInForce, point: PointFacts) -> Limit | None:
    """The point's upper limit: the lowest limit a value is over by being above it (a threshold
    rule's first level, a range's upper bound, a mean's limit), as the engine resolves it."""
    if rules is None:
        return None
    upward = [lim for lim in point_limits(rules[0], rules[1], point.device_id, point.code, point.field, "rtd")
              if lim.op in (">=", ">")]
    return min(upward, key=lambda lim: lim.value) if upward else None


def queue_recompute(db: sqlite3.Connection, start_ms: int, end_ms: int, site_id: int | None = None) -> int:
    """Queue [start_ms, end_ms) of every point (of one site) for computing again (a backfill, a
    changed limit or threshold); returns the number of points. The work is the aggregator's."""
    points = store.points_of_site(db, site_id)
    db.execute("BEGIN IMMEDIATE")
    try:
        store.mark_dirty(db, [(p, start_ms, end_ms) for p in points])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(points)


class Aggregator:
    """The background aggregation of one platform: the dirty set on the loop, the work on the writer.

    ``submit_job`` is the writer's (``BatchWriter.submit_job``); ``rules`` gives the rules in
    force (None: no limits). :meth:`run_pending` does the queued work in the calling thread,
    for the CLI's recomputation (its own process, no writer thread)."""

    def __init__(self, settings: Settings, *, submit_job: Callable[[Callable[[Any], object]], None] | None = None,
                 rules: Callable[[], RulesInForce] = lambda: None, clock: Callable[[], float] = time.time,
                 loop: asyncio.AbstractEventLoop | None = None, busy: Callable[[], bool] = lambda: False) -> None:
        """``busy``: whether device data waits for the writer (then the work yields it most of
        its time, see BUSY_SHARE); ``loop``: where the pause between jobs is timed."""
        self.tz = settings.tz
        self.th = Thresholds.of(settings)
        self.every_s = settings.aggregate_every_s
        self.submit_job = submit_job
        self.rules = rules
        self.clock = clock
        self.loop = loop
        self.busy = busy
        #: when device data was last committed (monotonic s): within INGEST_ACTIVE_S, ingest is on
        self._ingest_seen = -INGEST_ACTIVE_S
        #: (device_id, minute start) noted on the loop since the last flush
        self._noted: set[tuple[int, int]] = set()
        #: writer thread only: each device's point ids (and when read), and whether a work job is queued
        self._points: dict[int, tuple[float, list[int]]] = {}
        self._queued = False
        #: writer thread only: registry facts of points (and when read), their upper limits and the
        #: rules those were asked of
        self._facts: dict[int, tuple[float, PointFacts | None]] = {}
        self._limit_cache: dict[int, Limit | None] = {}
        self._limits_of: RulesInForce = None
        #: writer thread only: seconds its jobs took since start (the bench's share of the writer)
        self.job_seconds = 0.0
        #: writer thread only: periods written (minute, hour, day, month) since start, for tests and bench
        self.written: Counter[Period] = Counter()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---------------------------------------------------------------- on the event loop

    def on_committed(self, batch: IngestBatch) -> None:
        """Pipeline.on_committed: note the minutes the batch's real-time readings fall in, per
        device (a packet's readings share one time: one set insertion per packet, not per value)."""
        noted = self._noted
        if batch.readings:
            self._ingest_seen = time.monotonic()
        for item in batch.readings:
            rows = item.rows
            if item.kind is Kind.RTD and rows:
                device = item.device_id
                first, last = rows[0][2], rows[-1][2]
                if first - first % 60_000 == last - last % 60_000:
                    noted.add((device, first - first % 60_000))
                else:
                    for _, _, ts, _, _ in rows:
                        noted.add((device, ts - ts % 60_000))

    def noted(self) -> int:
        """Minutes noted on the loop and not yet handed to the writer."""
        return len(self._noted)

    def flush(self) -> None:
        """Hand what was noted to the writer, as one job."""
        if not self._noted or self.submit_job is None:
            return
        noted, self._noted = self._noted, set()
        self.submit_job(lambda st: self._note_job(st.db, noted))

    def poke(self) -> None:
        """Have the writer look for queued work (audit marks, recomputations asked for in another
        process, hours that ended) unless a job already will."""
        if not self._queued and self.submit_job is not None:
            self._queued = True
            self.submit_job(lambda st: self._work_job(st.db))

    async def run(self) -> None:
        """Catch up with what was stored unnoted, then flush every ``aggregate_every_s`` and look
        at due hours; until cancelled."""
        assert self.submit_job is not None
        self.submit_job(lambda st: self._catch_up(st.db))
        while True:
            await asyncio.sleep(self.every_s)
            try:
                self.flush()
                self.poke()
            except Exception:
                log.exception("queueing aggregation failed; will retry")

    # ---------------------------------------------------------------- on the writer thread

    def _catch_up(self, db: sqlite3.Connection) -> None:
        """Queue the real-time data newer than each point's newest minute (``store.behind``)."""
        db.execute("BEGIN IMMEDIATE")
        try:
            ranges = store.behind(db)
            store.mark_dirty(db, ranges)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if ranges:
            log.info("aggregation: %d points have real-time data not yet aggregated; computing it in the background",
                     len(ranges))

    def _note_job(self, db: sqlite3.Connection, noted: set[tuple[int, int]]) -> None:
        """Queue each noted minute for the device's points (a device's new points are seen within
        POINTS_TTL_S; a point without real-time data in a minute costs one key seek)."""
        started = time.perf_counter()
        wall = time.monotonic()
        stale = {d for d, _ in noted if wall - self._points.get(d, (-POINTS_TTL_S, []))[0] >= POINTS_TTL_S}
        if stale:
            fresh: dict[int, list[int]] = {d: [] for d in stale}
            for (device, _, _), pid in store.point_ids(db, stale).items():
                fresh[device].append(pid)
            self._points.update({d: (wall, pids) for d, pids in fresh.items()})
        minutes: dict[int, list[int]] = {}
        for device, minute in noted:
            minutes.setdefault(device, []).append(minute)
        ranges: list[tuple[int, int, int]] = []
        for device, starts in minutes.items():
            pids = self._points[device][1]
            starts.sort()
            first = last = starts[0]
            for m in [*starts[1:], None]:
                if m is None or m != last + 60_000:
                    ranges.extend((pid, first, last + 60_000) for pid in pids)
                    if m is None:
                        break
                    first = m
                last = m
        db.execute("BEGIN IMMEDIATE")
        try:
            store.mark_dirty(db, ranges)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.job_seconds += time.perf_counter() - started
        if not self._queued:
            self._work_job(db)

    def _work_job(self, db: sqlite3.Connection) -> None:
        self._queued = False
        started = time.perf_counter()
        more = self.work(db, JOB_SECONDS)
        self.job_seconds += time.perf_counter() - started
        if not more or self.submit_job is None:
            return
        self._queued = True
        active = time.monotonic() - self._ingest_seen < INGEST_ACTIVE_S or self.busy()
        if self.loop is not None and active:  # devices are sending: give the writer back most of its time
            pause = (time.perf_counter() - started) * (1 / BUSY_SHARE - 1)
            try:
                self.loop.call_soon_threadsafe(self.loop.call_later, pause, self._resubmit)
                return
            except RuntimeError:  # the loop is closed: the platform is stopping
                self._queued = False
                return
        self._resubmit()

    def _resubmit(self) -> None:
        assert self.submit_job is not None
        try:
            self.submit_job(lambda st: self._work_job(st.db))
        except WriterClosed:  # stopping: what is left stays queued in the store for the next start
            self._queued = False

    def work(self, db: sqlite3.Connection, seconds: float) -> bool:
        """Do queued work for about ``seconds`` in one transaction; True when some is left."""
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        try:
            more = self._work(db, started, seconds)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return more

    def run_pending(self, db: sqlite3.Connection, progress: Callable[[int, int], None] | None = None) -> None:
        """Do all queued work now (``forewarn stats recompute``), reporting after each piece the
        minutes still to compute and the hours (with their days and months) still to combine,
        as queued lengths in ms: minutes go first, so the first falls to 0, then the second.
        Pieces as short as the writer's, so a server running meanwhile waits for the lock no
        longer than for its own jobs."""
        while True:
            more = self.work(db, JOB_SECONDS)
            if progress is not None:
                now = self.now_ms()
                progress(store.dirty_backlog(db, now, "minute")[1], store.dirty_backlog(db, now, "hour")[1])
            if not more:
                return

    def _work(self, db: sqlite3.Connection, started: float, seconds: float) -> bool:
        now = self.now_ms()
        retained = retained_from(db)
        rules = self.rules()
        prev = self._limits_of
        if not (rules is prev or (rules is not None and prev is not None and rules[0] is prev[0]
                                  and rules[1] is prev[1])):  # the rules or the registry changed: ask again
            self._limits_of, self._limit_cache = rules, {}
        limits = self._limit_cache
        while time.perf_counter() - started < seconds:
            pieces = store.take_dirty(db, 200)
            if pieces:
                self._minutes(db, pieces, now, retained, rules, limits)
                continue
            hours = store.take_dirty(db, 200, level="hour", now_ms=now)
            if not hours:
                return False
            self._upper(db, hours, now, rules, limits)
        return True

    def _limits(self, db: sqlite3.Connection, pids: Iterable[int], rules: RulesInForce,
                limits: dict[int, Limit | None]) -> dict[int, PointFacts]:
        """Each point's registry facts and upper limit, both kept between jobs (facts for
        POINTS_TTL_S, limits while the rules in force are the same objects)."""
        wall = time.monotonic()
        wanted = set(pids)
        stale = [p for p in wanted if wall - self._facts.get(p, (-POINTS_TTL_S, None))[0] >= POINTS_TTL_S]
        if stale:
            got = store.point_facts(db, stale)
            for pid in stale:
                self._facts[pid] = (wall, got.get(pid))
                limits.pop(pid, None)
        facts = {p: f for p in wanted if (f := self._facts[p][1]) is not None}
        for pid, fact in facts.items():
            if pid not in limits:
                try:
                    limits[pid] = upper_limit(rules, fact)
                except Exception:  # a rule file's surprise must not stop the statistics
                    log.exception("the limit of point %d could not be read; counted without one", pid)
                    limits[pid] = None
        return facts

    def _staged(self, db: sqlite3.Connection, pids: Iterable[int], facts: dict[int, PointFacts],
                limits: dict[int, Limit | None], invalid: dict[int, list[tuple[int, int]]] | None = None) -> None:
        rows = []
        for pid in pids:
            lim = limits.get(pid)
            fact = facts.get(pid)
            rows.append((pid, None if lim is None else lim.value, lim is not None and lim.op == ">",
                         (fact.interval_s if fact else 60) * 1000))
        store.stage(db, rows, [(p, a, b) for p, ranges in (invalid or {}).items() for a, b in ranges])

    def _minutes(self, db: sqlite3.Connection, pieces: dict[int, list[tuple[int, int]]], now: int, retained: int,
                 rules: RulesInForce, limits: dict[int, Limit | None]) -> None:
        groups: dict[tuple[int, int], list[int]] = {}
        leftover: list[tuple[int, int, int]] = []
        for pid, ranges in pieces.items():
            for start, end in ranges:
                if end - start > SLICE_MS:
                    leftover.append((pid, start + SLICE_MS, end))
                    end = start + SLICE_MS
                m0, m1 = span(start, end, Period.MINUTE, self.tz)
                m0 = max(m0, retained)  # before it the raw data is gone: its minutes stay as computed
                if m0 < m1:
                    groups.setdefault((m0, m1), []).append(pid)
        store.mark_dirty(db, leftover)
        facts = self._limits(db, pieces, rules, limits)
        hours: list[tuple[int, int, int, int]] = []
        for (m0, m1), pids in groups.items():
            self._staged(db, pids, facts, limits, invalid_ranges(db, pids, m0, m1))
            written, touched = store.compute_minutes(db, m0, m1, share=self.th.flag_n_share, now_ms=now)
            self.written[Period.MINUTE] += written
            h0, h1 = span(m0, m1, Period.HOUR, self.tz)
            hour = h0
            while hour < h1:
                end = next_start(hour, Period.HOUR, self.tz)
                hours.extend((pid, hour, end, end if end > now else 0) for pid in touched)
                hour = end
        store.queue_hours(db, hours)

    def _upper(self, db: sqlite3.Connection, pieces: dict[int, list[tuple[int, int]]], now: int,
               rules: RulesInForce, limits: dict[int, Limit | None]) -> None:
        """Hours from minutes, then the days and months they fall in, for the queued hours."""
        facts = self._limits(db, pieces, rules, limits)
        groups: dict[tuple[int, int], list[int]] = {}
        for pid, ranges in pieces.items():
            for start, end in ranges:
                groups.setdefault((start, end), []).append(pid)
        for (start, end), pids in groups.items():
            self._staged(db, pids, facts, limits)
            child = Period.MINUTE
            while (parent := PARENT[child]) is not None:
                p0, p1 = span(start, end, parent, self.tz)
                bounds = []
                at = p0
                while at < p1:
                    nxt = next_start(at, parent, self.tz)
                    bounds.append((at, nxt, self.th.parts_needed(parent, at, self.tz)))
                    at = nxt
                self.written[parent] += store.compute_parents(db, child, parent, bounds,
                                                              share=self.th.flag_n_share, now_ms=now)
                start, end, child = p0, p1, parent
