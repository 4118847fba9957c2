"""Assemble a running platform from the settings: store, writer, pipeline, adapters.

Nothing here happens at import time; :class:`Platform` is built by the CLI (or a test) and
started and stopped explicitly, so tests run several platforms side by side on loopback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable

from forewarn.alarms.notify import Dispatcher, load_notify_config
from forewarn.alarms.records import AlarmRecorder
from forewarn.alarms.timers import check_timers
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.ingest.claim import OfflinePort, claim_quarantined
from forewarn.ingest.pipeline import Pipeline
from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.protocols.hj212.server import Hj212Server
from forewarn.rules.engine import Engine
from forewarn.rules.loader import build_catalog, load_effective_rules, number_versions
from forewarn.store.base import DeviceInfo
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter

__all__ = ["Platform"]

log = logging.getLogger(__name__)


class Platform:
    """One forewarn process in the embedded mode."""

    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or Catalogue()
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self.write_store: SqliteStore | None = None
        self.read_store: SqliteStore | None = None
        self.writer: BatchWriter[SqliteStore] | None = None
        self.pipeline: Pipeline | None = None
        self.handler: Hj212Handler | None = None
        self.hj212: Hj212Server | None = None
        self.engine: Engine | None = None
        self.dispatcher: Dispatcher | None = None

    async def start(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        self.write_store = SqliteStore(s.db_path, self.catalogue)
        self.read_store = SqliteStore(s.db_path, self.catalogue)
        self.writer = BatchWriter(self.write_store, s.batch_max_rows)
        self.pipeline = Pipeline(
            self.read_store, self.writer, loop, clock=self.clock, quarantine_max=s.quarantine_max_packets
        )
        if s.rules_enabled:
            self._start_rules()
        self.writer.start()
        self.handler = Hj212Handler(self.pipeline, s.tz, future_tolerance_s=s.future_tolerance_s)
        self.pipeline.on_registry_change.append(self._claim)
        # packets quarantined before their devices were registered while we were down
        self._claim(dict(self.pipeline.devices))
        self.hj212 = Hj212Server(
            self.handler,
            idle_timeout_s=s.idle_timeout_s,
            max_frame_bytes=s.max_frame_bytes,
            max_garbage_bytes=s.max_garbage_bytes,
        )
        await self.hj212.start(s.hj212_host, s.hj212_port)
        self._tasks.append(asyncio.create_task(self.pipeline.watch_registry(s.registry_poll_s)))
        if self.engine is not None:
            self._tasks.append(asyncio.create_task(self._clock()))
        if self.dispatcher is not None:
            self._tasks.append(asyncio.create_task(self.dispatcher.run()))

    def _start_rules(self) -> None:
        """Rules, engine, alarm recorder and notification dispatcher (before the writer runs)."""
        s = self.settings
        assert self.write_store is not None and self.read_store is not None and self.pipeline
        assert self.writer is not None
        rules = load_effective_rules(s.rules_path)
        versions = number_versions(rules, self.write_store.rule_version)
        catalog = build_catalog(*self.read_store.rule_context(), self.catalogue)
        states = {k: json.loads(v) for k, v in self.read_store.rule_states().items()}
        self.engine = Engine(rules, versions, catalog, states, late_after_s=s.late_after_s)
        self.pipeline.judge = self.engine.on_batch
        notify = load_notify_config(s.notify_path) if s.notify_path.exists() else None
        route = notify.channels_for if notify is not None else None
        self.write_store.batch_hooks.append(AlarmRecorder(s.tz, route, self.clock))
        if notify is not None and notify.channels:
            writer = self.writer
            self.dispatcher = Dispatcher(
                self.read_store.db,
                lambda work: writer.submit_job(lambda store: store.run_in_transaction(work)),
                notify, clock=self.clock,
            )

        def reload(devices: dict[str, DeviceInfo]) -> None:
            assert self.engine is not None and self.read_store is not None
            self.engine.reload(rules, versions, build_catalog(*self.read_store.rule_context(), self.catalogue))

        self.pipeline.on_registry_change.append(reload)

    async def _clock(self) -> None:
        """Silence (no data) and alarm timers: escalation and overdue."""
        s = self.settings
        assert self.engine is not None and self.pipeline is not None and self.writer is not None
        every = max(0.05, min(10.0, s.registry_poll_s * 5))
        while True:
            await asyncio.sleep(every)
            now = int(self.clock() * 1000)
            try:
                batch = self.engine.check_silence(now, self.pipeline.last_seen)
                if batch is not None:
                    self.pipeline.submit(batch)
                timers = functools.partial(
                    check_timers, now_ms=now, ack_within_ms=int(s.ack_within_s * 1000),
                    close_within_ms=int(s.close_within_s * 1000), tz=s.tz, recorder=self._recorder(),
                )
                self.writer.submit_job(functools.partial(SqliteStore.run_in_transaction, work=timers))
            except Exception:
                log.exception("the rule clock failed; will retry")

    def _recorder(self) -> AlarmRecorder | None:
        assert self.write_store is not None
        found = [h for h in self.write_store.batch_hooks if isinstance(h, AlarmRecorder)]
        return found[0] if found else None

    def _claim(self, devices: dict[str, DeviceInfo]) -> None:
        """Claim quarantine on the writer thread: after every earlier write, racing none."""
        assert self.writer is not None
        s = self.settings
        handler = Hj212Handler(OfflinePort(self.clock), s.tz, future_tolerance_s=s.future_tolerance_s)
        self.writer.submit_job(lambda store: claim_quarantined(store, handler, devices))

    @property
    def hj212_port(self) -> int:
        assert self.hj212 is not None
        return self.hj212.port

    async def stop(self) -> None:
        """Stop accepting, store everything already received, close the database."""
        for task in self._tasks:
            task.cancel()
        if self.hj212 is not None:
            await self.hj212.close()  # connections hand over what they held
        if self.writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        await asyncio.sleep(0)  # run the last commit's callbacks
        for store in (self.write_store, self.read_store):
            if store is not None:
                store.close()
