"""The early-warning service of a running platform: rules judged, alarms kept, notices sent.

It assembles the rule engine (presets, the regulator's rule files, the emergency calendar),
puts it in front of the writer (each batch is judged before it is stored), records alarms in
the batch's transaction, runs the clock (silence, escalation, overdue), reloads rules when
their files change and the registry when it changes, and runs the notification dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from forewarn.alarms.marked_data import MarkedData
from forewarn.alarms.notify import Dispatcher, load_notify_config
from forewarn.alarms.records import AlarmRecorder
from forewarn.alarms.timers import check_timers
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.ingest.pipeline import Pipeline
from forewarn.rules.emergency import CalendarError, load_calendar
from forewarn.rules.engine import Engine
from forewarn.rules.files import RuleFileError
from forewarn.rules.loader import load_effective_rules, number_versions, refresh_catalog, rule_files
from forewarn.store.base import IngestBatch
from forewarn.store.notice_outbox import open_notice_outbox
from forewarn.store.registry_reads import catalog_rows
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter

__all__ = ["AlarmService"]

log = logging.getLogger(__name__)


def _signature(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    found = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        found.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(found)


class AlarmService:
    def __init__(self, settings: Settings, catalogue: Catalogue, clock: Callable[[], float],
                 read_store: SqliteStore, write_store: SqliteStore, writer: BatchWriter[SqliteStore],
                 pipeline: Pipeline, *, dispatch: bool = True) -> None:
        """``dispatch``: also run the notification dispatcher (False: another process's notify
        role sends what the recorder puts in the outbox)."""
        self.settings = settings
        self.dispatch = dispatch
        self.catalogue = catalogue
        self.clock = clock
        self.read_store = read_store
        self.write_store = write_store
        self.writer = writer
        self.pipeline = pipeline
        self.engine: Engine | None = None
        self.marked: MarkedData | None = None
        self.recorder: AlarmRecorder | None = None
        self.dispatcher: Dispatcher | None = None
        self._files_seen: tuple[tuple[str, int, int], ...] = ()
        self._checkpointed = int(clock() * 1000)
        self._started_ms = self._checkpointed
        self._tasks: list[asyncio.Task[None]] = []

    def _watched(self) -> list[Path]:
        s = self.settings
        return [*rule_files(s.rules_path), s.calendar_path]

    def start(self) -> None:
        """Build everything (before the writer thread runs); raises on a bad rule file."""
        s = self.settings
        self._files_seen = _signature(self._watched())
        rules = load_effective_rules(s.rules_path)
        versions = number_versions(rules, self.write_store.rule_version)
        catalog = refresh_catalog(*catalog_rows(self.read_store.db), self.catalogue, None)[0]
        states = {k: json.loads(v) for k, v in self.read_store.rule_states().items()}
        offset = datetime.now(s.tz).utcoffset()
        self.engine = Engine(rules, versions, catalog, states, late_after_s=s.late_after_s, ahead_s=s.judge_ahead_s,
                             calendar=load_calendar(s.calendar_path),
                             utc_offset_ms=int(offset.total_seconds() * 1000) if offset else 0)
        self.marked = MarkedData(self.engine, self.pipeline.readers, self.pipeline.now_ms)
        self.marked.load(self.read_store.db)  # data marked invalid in audit is not judged live
        self.pipeline.judge = self.engine.judge  # its view of a batch is undone if the batch is not stored
        self.pipeline.registry_loaders.append(self._load_catalog)
        notify = load_notify_config(s.notify_path) if s.notify_path.exists() else None
        self.recorder = AlarmRecorder(s.tz, notify.channels_for if notify is not None else None, self.clock)
        self.write_store.batch_hooks.append(self.recorder)
        if notify is not None and notify.channels and self.dispatch:
            self.dispatcher = Dispatcher(open_notice_outbox(s.store_url), notify, clock=self.clock)
            loop = asyncio.get_running_loop()
            dispatcher = self.dispatcher
            self.recorder.on_enqueued = lambda: loop.call_soon_threadsafe(dispatcher.wake)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.checkpoint()

    def checkpoint(self) -> None:
        """Store the engine's running state (also called when the platform stops)."""
        if self.engine is None:
            return
        batch = IngestBatch()
        engine = self.engine
        # with the platform's heartbeat: the next start knows how long the platform was down
        if engine.checkpoint(batch, int(self.clock() * 1000)):
            self.pipeline.submit(batch, lambda error: None if error is None else engine.checkpoint_lost(batch))

    def run(self) -> None:
        """Record the platform's own downtime, if any; start the clock and the dispatcher
        (stopped by :meth:`stop`)."""
        assert self.engine is not None
        down = self.engine.platform_down(self._started_ms)
        if down is not None:
            assert self.engine.down is not None
            log.warning("the platform was down from %s to %s; devices' silence is judged from now",
                        *(datetime.fromtimestamp(t / 1000, self.settings.tz).isoformat(timespec="seconds")
                          for t in self.engine.down))
            self.pipeline.submit(down)
        assert self.marked is not None
        self._tasks = [asyncio.create_task(self._clock()),
                       asyncio.create_task(self.marked.run(max(0.05, min(5.0, self.settings.registry_poll_s * 2))))]
        if self.dispatcher is not None:
            self._tasks.append(asyncio.create_task(self.dispatcher.run()))

    def _load_catalog(self, db: sqlite3.Connection) -> Callable[[], None]:
        """A ``Pipeline.registry_loaders`` entry: the rule catalogue built on a reader thread
        (over half a second for 10,000 devices), swapped into the engine on the loop."""
        engine = self.engine
        assert engine is not None
        previous = engine.catalog
        catalog, changed = refresh_catalog(*catalog_rows(db), self.catalogue, previous)

        def swap() -> None:  # the rules in force then, not those when the catalogue was read
            engine.reload(engine.rules, engine.versions, catalog,
                          devices=changed if engine.catalog is previous else None)

        return swap

    def _reload_files_if_changed(self, now: int = 0) -> None:
        """Rule files or the calendar changed: load them, or keep the old ones and say why."""
        seen = _signature(self._watched())
        if seen == self._files_seen:
            return
        self._files_seen = seen
        assert self.engine is not None
        s = self.settings
        try:
            rules = load_effective_rules(s.rules_path)
            calendar = load_calendar(s.calendar_path)
        except (RuleFileError, CalendarError) as exc:
            log.error("rule files changed but cannot be used; the rules in force stay: %s", exc)
            return
        versions = number_versions(rules, self.read_store.rule_version)
        self.engine.reload(rules, versions, self.engine.catalog, calendar)
        log.info("rules reloaded: %d rules, %d overrides", len(rules.rules), len(rules.overrides))

    async def _clock(self) -> None:
        """Silence (no data), alarm timers (escalation, overdue), and file changes."""
        s = self.settings
        assert self.engine is not None
        every = max(0.05, min(10.0, s.registry_poll_s * 5))
        while True:
            await asyncio.sleep(every)
            now = int(self.clock() * 1000)
            # each duty on its own: one failing must not stop the others
            for duty in (self._checkpoint_due, self._reload_files_if_changed, self._silence, self._timers):
                try:
                    duty(now)
                except Exception:
                    log.exception("the alarm clock's %s failed; will retry", duty.__name__)

    def _checkpoint_due(self, now: int) -> None:
        if now - self._checkpointed >= self.settings.checkpoint_s * 1000:
            self.checkpoint()
            self._checkpointed = now

    def _silence(self, now: int) -> None:
        """No data: silence counts from the last packet, or from our own start if later, so
        that a restart of the platform does not find every device offline."""
        assert self.engine is not None
        found = self.engine.silence(now, self.pipeline.last_seen, not_before_ms=self._started_ms)
        if found is not None:
            self.pipeline.submit(found[0], judged=found[1])

    def _timers(self, now: int) -> None:
        s = self.settings
        timers = functools.partial(
            check_timers, now_ms=now, ack_within_ms=int(s.ack_within_s * 1000),
            close_within_ms=int(s.close_within_s * 1000), tz=s.tz, recorder=self.recorder,
        )
        self.writer.submit_job(functools.partial(SqliteStore.run_in_transaction, work=timers))
