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

The arithmetic (:func:`minute_rows`, :func:`combine`) is pure and tested on worked examples.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.config import Settings
from forewarn.model import Kind, Period
from forewarn.rules.catalog import RuleCatalog
from forewarn.rules.limits import Limit, limit_state, point_limits
from forewarn.rules.model import RuleSet
from forewarn.stats.periods import PARENT, floor, next_start, span
from forewarn.store import aggregates as store
from forewarn.store.aggregates import AggregateRow, PointFacts
from forewarn.store.audit_marks import invalid_ranges
from forewarn.store.base import IngestBatch
from forewarn.store.rtd_retention import retained_from
from forewarn.store.writer import WriterClosed

__all__ = ["Aggregator", "Thresholds", "combine", "minute_rows", "queue_recompute", "upper_limit"]

log = logging.getLogger(__name__)

RulesInForce = tuple[RuleSet, RuleCatalog] | None
#: most of one point's range computed in one piece (a longer one is put back for the next)
SLICE_MS = 86_400_000
#: a job runs this long at most before it commits and lets device data in
JOB_SECONDS = 0.05


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


def _flag(n_received: int, n_valid: int, share: float, others: Counter[str]) -> str:
    """N when enough values are valid, else the most common other flag (I: marked invalid in audit)."""
    if n_valid > 0 and n_valid >= share * n_received:
        return "N"
    return others.most_common(1)[0][0] if others else "N"


def minute_rows(point_id: int, rows: Sequence[tuple[int, float | None, str]], invalid: Sequence[tuple[int, int]],
                limit: Limit | None, interval_ms: int, th: Thresholds, now_ms: int) -> list[AggregateRow]:
    """The minutes of one point's real-time rows (sorted by time). A value is valid when flagged
    N and outside every invalid range; its held time (for ``over_ms``) runs to the next value,
    at most one reporting interval. Mean, minimum and maximum are of the valid values (of all
    when none is valid); ``cou`` sums the valid ones."""
    out: list[AggregateRow] = []
    cut = 0  # index into invalid
    by_minute: dict[int, list[tuple[int, float, bool, bool, str]]] = {}
    present = [(ts, v, f) for ts, v, f in rows if v is not None]
    for i, (ts, value, flag) in enumerate(present):
        while cut < len(invalid) and invalid[cut][1] <= ts:
            cut += 1
        audited_out = cut < len(invalid) and invalid[cut][0] <= ts
        valid = flag == "N" and not audited_out
        over = valid and limit is not None and limit_state(value, "N", (limit,))[0] == "over_limit"
        hold = interval_ms if i + 1 == len(present) else min(present[i + 1][0] - ts, interval_ms)
        by_minute.setdefault(ts - ts % 60_000, []).append((hold, value, valid, over, "I" if flag == "N" else flag))
    for start, values in by_minute.items():
        good = [v for _, v, ok, _, _ in values if ok]
        chosen = good or [v for _, v, _, _, _ in values]
        n_valid = len(good)
        others = Counter(f for _, _, ok, _, f in values if not ok)
        flag = _flag(len(values), n_valid, th.flag_n_share, others)
        out.append(AggregateRow(
            point_id=point_id, period=Period.MINUTE, start_ms=start, avg=sum(chosen) / len(chosen), min=min(chosen),
            max=max(chosen), cou=sum(good) if good else None, n_received=len(values), n_valid=n_valid,
            n_over=sum(1 for _, _, _, o, _ in values if o),
            over_ms=sum(h for h, _, _, o, _ in values if o), parts=len(values), parts_valid=n_valid,
            valid=flag == "N", flag=flag, upper_limit=None if limit is None else limit.value, computed_ms=now_ms,
        ))
    return out


def combine(point_id: int, period: Period, start_ms: int, parts: Sequence[AggregateRow], th: Thresholds,
            tz: ZoneInfo, limit: Limit | None, now_ms: int) -> AggregateRow:
    """One hour from its minutes, a day from its hours, a month from its days. Counts of values
    add up; the period is valid with enough valid parts (``Thresholds``); its mean is the mean of
    its valid parts' means (of all parts' when none is valid), its minimum and maximum theirs."""
    valid_parts = [p for p in parts if p.valid]
    chosen = valid_parts or list(parts)
    means = [p.avg for p in chosen if p.avg is not None]
    lows = [p.min for p in chosen if p.min is not None]
    highs = [p.max for p in chosen if p.max is not None]
    cous = [p.cou for p in parts if p.cou is not None]
    n_received = sum(p.n_received for p in parts)
    n_valid = sum(p.n_valid for p in parts)
    others: Counter[str] = Counter()
    for p in parts:
        if p.flag != "N":
            others[p.flag] += p.n_received - p.n_valid
    flag = _flag(n_received, n_valid, th.flag_n_share, others)
    return AggregateRow(
        point_id=point_id, period=period, start_ms=start_ms,
        avg=sum(means) / len(means) if means else None, min=min(lows) if lows else None,
        max=max(highs) if highs else None, cou=sum(cous) if cous else None,
        n_received=n_received, n_valid=n_valid, n_over=sum(p.n_over for p in parts),
        over_ms=sum(p.over_ms for p in parts), parts=len(parts), parts_valid=len(valid_parts),
        valid=len(valid_parts) >= th.parts_needed(period, start_ms, tz), flag=flag,
        upper_limit=None if limit is None else limit.value, computed_ms=now_ms,
    )


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
                 rules: Callable[[], RulesInForce] = lambda: None, clock: Callable[[], float] = time.time) -> None:
        self.tz = settings.tz
        self.th = Thresholds.of(settings)
        self.every_s = settings.aggregate_every_s
        self.submit_job = submit_job
        self.rules = rules
        self.clock = clock
        #: (device_id, code, field, minute start) noted on the loop since the last flush
        self._noted: set[tuple[int, str, str, int]] = set()
        #: writer thread only: point ids by (device, code, field), and whether a work job is queued
        self._point_ids: dict[tuple[int, str, str], int] = {}
        self._queued = False
        #: writer thread only: periods written (minute, hour, day, month) since start, for tests and bench
        self.written: Counter[Period] = Counter()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---------------------------------------------------------------- on the event loop

    def on_committed(self, batch: IngestBatch) -> None:
        """Pipeline.on_committed: note the minutes the batch's real-time readings fall in."""
        noted = self._noted
        for item in batch.readings:
            if item.kind is Kind.RTD:
                device = item.device_id
                for code, field, ts, _, _ in item.rows:
                    noted.add((device, code, field, ts - ts % 60_000))

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
        """Flush every ``aggregate_every_s`` and look at due hours; until cancelled."""
        assert self.submit_job is not None
        while True:
            await asyncio.sleep(self.every_s)
            try:
                self.flush()
                self.poke()
            except Exception:
                log.exception("queueing aggregation failed; will retry")

    # ---------------------------------------------------------------- on the writer thread

    def _note_job(self, db: sqlite3.Connection, noted: set[tuple[int, str, str, int]]) -> None:
        missing = {d for d, c, f, _ in noted if (d, c, f) not in self._point_ids}
        if missing:
            self._point_ids.update(store.point_ids(db, missing))
        minutes: dict[int, list[int]] = {}
        for device, code, field, minute in noted:
            pid = self._point_ids.get((device, code, field))
            if pid is not None:
                minutes.setdefault(pid, []).append(minute)
        ranges: list[tuple[int, int, int]] = []
        for pid, starts in minutes.items():
            starts.sort()
            first = last = starts[0]
            for m in starts[1:]:
                if m != last + 60_000:
                    ranges.append((pid, first, last + 60_000))
                    first = m
                last = m
            ranges.append((pid, first, last + 60_000))
        db.execute("BEGIN IMMEDIATE")
        try:
            store.mark_dirty(db, ranges)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if not self._queued:
            self._work_job(db)

    def _work_job(self, db: sqlite3.Connection) -> None:
        self._queued = False
        if self.work(db, JOB_SECONDS) and self.submit_job is not None:
            self._queued = True
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

    def run_pending(self, db: sqlite3.Connection, progress: Callable[[int], None] | None = None) -> None:
        """Do all queued work now (``forewarn stats recompute``), reporting the backlog left (ms)
        after each piece; pieces as short as the writer's, so a server running meanwhile waits
        for the lock no longer than for its own jobs."""
        while True:
            more = self.work(db, JOB_SECONDS)
            if progress is not None:
                progress(store.dirty_backlog(db, self.now_ms())[1])
            if not more:
                return

    def _work(self, db: sqlite3.Connection, started: float, seconds: float) -> bool:
        now = self.now_ms()
        retained = retained_from(db)
        rules = self.rules()
        limits: dict[int, Limit | None] = {}
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
        facts = store.point_facts(db, list(pids))
        for pid, fact in facts.items():
            if pid not in limits:
                try:
                    limits[pid] = upper_limit(rules, fact)
                except Exception:  # a rule file's surprise must not stop the statistics
                    log.exception("the limit of point %d could not be read; counted without one", pid)
                    limits[pid] = None
        return facts

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
            rows = store.rtd_rows(db, pids, m0, m1)
            existing = store.period_starts(db, pids, Period.MINUTE, m0, m1)
            invalid = invalid_ranges(db, pids, m0, m1)
            written: list[AggregateRow] = []
            touched = {p for p, _ in existing} | set(rows)
            for pid in touched:
                fact = facts.get(pid)
                interval_ms = (fact.interval_s if fact else 60) * 1000
                written.extend(minute_rows(pid, rows.get(pid, ()), invalid.get(pid, ()), limits.get(pid),
                                           interval_ms, self.th, now))
            store.upsert_aggregates(db, written)
            store.delete_periods(db, Period.MINUTE, existing - {(r.point_id, r.start_ms) for r in written})
            self.written[Period.MINUTE] += len(written)
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
        self._limits(db, pieces, rules, limits)
        groups: dict[tuple[int, int], list[int]] = {}
        for pid, ranges in pieces.items():
            for start, end in ranges:
                groups.setdefault((start, end), []).append(pid)
        for (start, end), pids in groups.items():
            child = Period.MINUTE
            while (parent := PARENT[child]) is not None:
                p0, p1 = span(start, end, parent, self.tz)
                self._combine(db, pids, child, parent, p0, p1, now, limits)
                start, end, child = p0, p1, parent

    def _combine(self, db: sqlite3.Connection, pids: list[int], child: Period, parent: Period, p0: int, p1: int,
                 now: int, limits: dict[int, Limit | None]) -> None:
        parts: dict[tuple[int, int], list[AggregateRow]] = {}
        for row in store.aggregates(db, pids, child, p0, p1):
            parts.setdefault((row.point_id, floor(row.start_ms, parent, self.tz)), []).append(row)
        rows = [combine(pid, parent, start, got, self.th, self.tz, limits.get(pid), now)
                for (pid, start), got in parts.items()]
        existing = store.period_starts(db, pids, parent, p0, p1)
        store.upsert_aggregates(db, rows)
        store.delete_periods(db, parent, existing - set(parts))
        self.written[parent] += len(rows)
