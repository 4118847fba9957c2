"""Assemble a running platform from the settings: store, writer, pipeline, adapters.

Nothing here happens at import time; :class:`Platform` is built by the CLI (or a test) and
started and stopped explicitly, so tests run several platforms side by side on loopback.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from forewarn.activity import follow_activity
from forewarn.alarms.notify import Dispatcher, load_notify_config
from forewarn.alarms.records import AlarmRecorder
from forewarn.alarms.service import AlarmService
from forewarn.bus.links import PlatformLink, link_platform
from forewarn.cameras.snapshots import SnapshotTaker
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.forward.service import Forwarding
from forewarn.gil import prefer_the_loop, restore
from forewarn.heap import freeze_long_lived, thaw
from forewarn.ingest.claim import OfflinePort, claim_quarantined
from forewarn.ingest.pipeline import Pipeline
from forewarn.limits import ConnectionCaps, connection_caps, open_files_limit
from forewarn.live.feed import LiveFeed
from forewarn.live.hub import Hub
from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.protocols.hj212.server import Hj212Server
from forewarn.protocols.modbus.adapters import ModbusAdapters
from forewarn.protocols.mqtt.adapters import MqttAdapters
from forewarn.reports.schedule import ReportScheduler
from forewarn.roles import ALL, Role, not_ported, reuse_port
from forewarn.rules.catalog import RuleCatalog
from forewarn.rules.model import RuleSet
from forewarn.rules_feed import RulesFeed
from forewarn.sites.view import SiteView
from forewarn.stats.aggregate import Aggregator
from forewarn.stats.day_keeper import DayKeeper
from forewarn.stats.retention import Retention
from forewarn.stats.screening_daily import DailyScreening
from forewarn.store.base import DeviceInfo, Store
from forewarn.store.notice_outbox import open_notice_outbox
from forewarn.store.open import open_store
from forewarn.store.readers import ReaderPool
from forewarn.store.sqlite import SqliteStore, StoreError
from forewarn.store.writer import BatchWriter
from forewarn.web.app import create_app
from forewarn.web.context import ApiContext
from forewarn.web.server import HttpServer

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
        http: bool = False,
        roles: frozenset[Role] | None = None,
    ) -> None:
        """``http``: also serve the HTTP API on ``settings.http_host:http_port`` (the CLI does;
        tests that do not need it leave it off, so they bind no fixed port). ``roles``: the
        parts this process runs (forewarn.roles; None: every one, the HTTP API as ``http``
        says); given, the web role serves the HTTP API."""
        self.settings = settings
        self.roles = ALL if roles is None else roles
        self.serve_http = Role.WEB in self.roles and (http or roles is not None)
        self.catalogue = catalogue or Catalogue()
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        #: the store every role writes through (open_store: SQLite or PostgreSQL)
        self.store: Store | None = None
        #: on the embedded store: the writer's SQLite store (self.store) and a second one to read
        #: on the loop, which the parts not yet ported to PostgreSQL use (None on PostgreSQL)
        self.write_store: SqliteStore | None = None
        self.read_store: SqliteStore | None = None
        self.writer: BatchWriter[Any] | None = None
        self.pipeline: Pipeline | None = None
        self.handler: Hj212Handler | None = None
        self.hj212: Hj212Server | None = None
        self.alarms: AlarmService | None = None
        #: the notification dispatcher of a notify role without the rule engine (with it: alarms')
        self.dispatcher: Dispatcher | None = None
        #: what announces alarm steps taken on the web in a process without the rule engine
        self.step_recorder: AlarmRecorder | None = None
        #: a rules worker's own connection for the devices' activity (activity.py; SQLite only)
        self._activity_store: SqliteStore | None = None
        #: a rules worker's input from the bus: readings committed by ingest processes (rules_feed.py)
        self.feed: RulesFeed | None = None
        self.http: HttpServer | None = None
        #: the senders to the targets of forward.toml (none without the file)
        self.forwarding: Forwarding | None = None
        #: forewarn's MQTT port and broker subscription, when the settings ask for them
        self.mqtt: MqttAdapters | None = None
        #: the pollers of Modbus TCP devices (one task per device with a register map)
        self.modbus: ModbusAdapters | None = None
        self.readers: ReaderPool | None = None
        #: the live stream (served with the HTTP API)
        self.live: Hub | None = None
        self.live_feed: LiveFeed | None = None
        #: the daily screening for doubtful data (None: screening_hour -1)
        self.screening: DailyScreening | None = None
        #: forewarn's own minute/hour/day/month values, computed in the background (None: off)
        self.aggregator: Aggregator | None = None
        self.retention: Retention | None = None
        self.day_keeper: DayKeeper | None = None
        #: snapshots of a site's cameras when an alarm fires there (cameras/snapshots.py)
        self.cameras: SnapshotTaker | None = None
        #: scheduled reports into DATA/reports (served with the HTTP API, which lists them)
        self.reports: ReportScheduler | None = None
        #: the bus to the other processes (memory:// alone: forewarn.bus.links)
        self.bus: PlatformLink | None = None

    async def start(self) -> None:
        """Start the parts of this process's roles (every role: the whole platform).

        The order matters where parts meet: the alarm recorder is a hook of the write store
        before the writer thread runs; forwarding's rules and the quarantine claim go to the
        writer before any device is let in; the devices' port opens last among the ingest parts."""
        s = self.settings
        roles = self.roles
        self._start_core()
        assert self.pipeline is not None
        self.bus = await link_platform(s, self.pipeline)  # first: a NATS that does not answer stops us here
        if Role.RULES in roles and s.rules_enabled:
            self._start_alarms()
        if Role.INGEST not in roles and (self.alarms is not None or self.serve_http):
            self._follow_devices()  # the silence check and the live map judge the ingest processes' devices
        assert self.writer is not None
        self.writer.start()
        if Role.INGEST in roles:
            self._start_aggregation()
        if Role.RULES in roles:
            self._start_duties()
        if Role.INGEST in roles:
            await self._start_ingest()
        if Role.NOTIFY in roles and self.alarms is None:
            self._start_dispatcher()
        if self.serve_http:
            await self._start_web()
        assert self.pipeline is not None
        self._tasks.append(asyncio.create_task(self.pipeline.watch_registry(s.registry_poll_s)))
        if Role.RULES in roles and s.screening_hour >= 0:
            assert self.readers is not None
            self.screening = DailyScreening(s, self.readers, self.writer, self.clock)
            self._tasks.append(asyncio.create_task(self.screening.run()))
        if self.alarms is not None:
            self.alarms.run()
            if Role.INGEST not in roles:
                await self._start_feed()
        # what start-up and each registry reload build lives long: out of the collector's full
        # passes, which otherwise stop the loop for 100-200 ms with 10,000 devices (heap.py)
        self.pipeline.on_registry_change.append(lambda _devices: freeze_long_lived())
        freeze_long_lived(full=True)
        prefer_the_loop()  # readers and the writer give the GIL back to the loop within 1 ms (gil.py)

    def _start_core(self) -> None:
        """What every role needs: the store, the one writer, reader threads, the pipeline (the
        web writes user actions and HTTP ingest through it; the rules worker its decisions)."""
        s = self.settings
        loop = asyncio.get_running_loop()
        refusal = not_ported(self.roles, s.store_url)
        if refusal is not None:
            raise StoreError(refusal)
        self.store = store = open_store(s.store_url, self.catalogue)
        if isinstance(store, SqliteStore):
            self.write_store = store
            self.read_store = SqliteStore(store.path, self.catalogue)
            # page reads and registry reloads: off the loop that answers devices
            self.readers = ReaderPool(store.path)
        else:  # the store reads through its own pool; the reader threads keep that off the loop
            self.readers = ReaderPool(None)
        self.writer = BatchWriter(store, s.batch_max_rows)
        self.pipeline = Pipeline(
            self.read_store or store, self.writer, loop, clock=self.clock, quarantine_max=s.quarantine_max_packets,
            readers=self.readers,
        )

    def _start_alarms(self) -> None:
        """The rule engine judging each batch before it is stored, and the alarms it raises; the
        notification dispatcher with them when this process is also the notify role."""
        assert self.read_store is not None and self.write_store is not None
        assert self.writer is not None and self.pipeline is not None
        self.alarms = AlarmService(self.settings, self.catalogue, self.clock, self.read_store, self.write_store,
                                   self.writer, self.pipeline, dispatch=Role.NOTIFY in self.roles)
        self.alarms.start()

    def _follow_devices(self) -> None:
        """A rules or web process that hears no device: when each was last heard, as the ingest
        processes commit it, so that silence and the live map's online state are judged on
        their data (forewarn.activity)."""
        store, readers, pipeline = self.store, self.readers, self.pipeline
        assert store is not None and readers is not None and pipeline is not None
        if isinstance(store, SqliteStore):  # a connection of its own, used on one reader thread at a time
            store = self._activity_store = SqliteStore(store.path, self.catalogue)
        every = max(0.05, min(5.0, self.settings.registry_poll_s * 5))
        read = store.last_seen
        self._tasks.append(asyncio.create_task(follow_activity(pipeline.last_seen, lambda: readers.call(read), every)))

    async def _start_feed(self) -> None:
        """A rules worker without ingest judges what the ingest processes committed, from the
        bus (forewarn.rules_feed)."""
        assert self.bus is not None and self.pipeline is not None
        if self.settings.bus.startswith("memory://"):
            log.warning("this rules process has no ingest and an in-process bus (memory://): it hears no other "
                        "process's readings; set bus = nats://HOST:PORT in every process (docs/scale.md)")
        self.feed = RulesFeed(self.bus.bus, self.pipeline)
        await self.feed.start()

    def _start_aggregation(self) -> None:
        """forewarn's own minute to month values of the readings this process commits (the
        aggregator notes them as they are committed here)."""
        s = self.settings
        writer, pipeline = self.writer, self.pipeline
        assert writer is not None and pipeline is not None
        if s.aggregation_enabled and self.write_store is None:
            log.info("forewarn's own minute to month values are not computed on PostgreSQL yet (their SQL is SQLite's)")
        elif s.aggregation_enabled:
            self.aggregator = Aggregator(s, submit_job=writer.submit_job, rules=self._rules_in_force,
                                         clock=self.clock, loop=asyncio.get_running_loop(),
                                         busy=lambda: writer.queue_depth() > 0)
            pipeline.on_committed.append(self.aggregator.on_committed)
            self._tasks.append(asyncio.create_task(self.aggregator.run()))

    def _start_duties(self) -> None:
        """The installation's single duties (one process runs them): retention, the figures'
        day keeper, camera snapshots of alarms, forwarding upward."""
        s = self.settings
        writer, pipeline, readers = self.writer, self.pipeline, self.readers
        assert writer is not None and pipeline is not None and readers is not None
        assert self.read_store is not None
        loop = asyncio.get_running_loop()
        if s.rtd_retention_days:
            self.retention = Retention(s.rtd_retention_days, submit_job=writer.submit_job, clock=self.clock,
                                       loop=loop, busy=lambda: writer.queue_depth() > 0)
            self._tasks.append(asyncio.create_task(self.retention.run()))
        if s.aggregation_enabled:  # the figures' online and running times, kept per finished day
            view = SiteView(s.tz, s.offline_after_intervals, self.catalogue, self._rules_in_force)
            self.day_keeper = DayKeeper(view, submit_job=writer.submit_job, clock=self.clock)
            self._tasks.append(asyncio.create_task(self.day_keeper.run()))
        self.cameras = SnapshotTaker(readers, writer, s.snapshots_path, s.camera_timeout_s, clock=self.clock)
        self.cameras.start(self.read_store.db)
        pipeline.on_committed.append(self.cameras.on_committed)
        pipeline.registry_loaders.append(self.cameras.load_live_origins)
        self._tasks.append(asyncio.create_task(self.cameras.run()))
        self.forwarding = Forwarding(s.forward_path, readers, writer, s.tz, clock=self.clock)
        self.forwarding.start()  # its rules go to the writer before any reading does
        pipeline.on_committed.append(self.forwarding.on_committed)
        pipeline.on_registry_change.append(self.forwarding.sync_rules)

    async def _start_ingest(self) -> None:
        """The devices' ways in: HJ 212 over TCP, MQTT, Modbus polls; and the claim of packets
        quarantined before their devices were registered."""
        s = self.settings
        pipeline, writer, read_store = self.pipeline, self.writer, self.read_store
        assert pipeline is not None and writer is not None
        if read_store is None and (s.mqtt_listen or s.mqtt_broker):
            raise StoreError("MQTT ingest does not run on a PostgreSQL store yet (its token and device lookups are "
                             "SQLite's): leave mqtt_listen and mqtt_broker empty in this process's settings")
        self.handler = Hj212Handler(pipeline, s.tz, future_tolerance_s=s.future_tolerance_s,
                                    strict=bool(s.hj212_strict))
        pipeline.on_registry_change.append(self._claim)
        # packets quarantined before their devices were registered while we were down
        self._claim(dict(pipeline.devices))
        self.hj212 = Hj212Server(
            self.handler,
            idle_timeout_s=s.idle_timeout_s,
            max_frame_bytes=s.max_frame_bytes,
            max_garbage_bytes=s.max_garbage_bytes,
            frame_timeout_s=s.frame_timeout_s,
            max_connections=self._caps.hj212,
            max_connections_per_peer=s.max_connections_per_peer,
            max_unstored_per_connection=s.max_unstored_per_connection,
            writer_queue_max=s.writer_queue_max,
            queue_depth=writer.queue_depth,
        )
        await self.hj212.start(s.hj212_host, s.hj212_port, reuse_port=reuse_port(s.hj212_reuse_port, self.roles))
        if read_store is None:
            log.info("MQTT and Modbus ingest do not run on PostgreSQL yet: this process takes HJ 212 only")
            return
        self.mqtt = MqttAdapters(s, pipeline, read_store, lambda port: Hj212Handler(
            port, s.tz, future_tolerance_s=s.future_tolerance_s, strict=bool(s.hj212_strict)))
        await self.mqtt.start()
        self.modbus = ModbusAdapters(pipeline, read_store.db, backoff_max_s=s.modbus_backoff_max_s)
        self.modbus.start()

    def _start_dispatcher(self) -> None:
        """The notification dispatcher alone (no rule engine here): it finds the notices other
        processes put in the outbox by polling it."""
        s = self.settings
        notify = load_notify_config(s.notify_path) if s.notify_path.exists() else None
        if notify is None or not notify.channels:
            log.info("no notification channels (%s): the notify role has nothing to send", s.notify_path)
            return
        # claims in the outbox keep two notify processes from sending one notice twice
        self.dispatcher = Dispatcher(open_notice_outbox(s.store_url), notify, clock=self.clock)
        self._tasks.append(asyncio.create_task(self.dispatcher.run()))

    async def _start_web(self) -> None:
        """The HTTP API (HTTP ingest included), the dashboard, the live stream and the reports."""
        s = self.settings
        pipeline, writer, read_store = self.pipeline, self.writer, self.read_store
        assert pipeline is not None and writer is not None and read_store is not None
        hj212 = self.hj212
        alarms = self.alarms
        if alarms is None and Role.RULES not in self.roles:
            # no engine here: alarm steps taken on the web still go to the notification outbox
            notify = load_notify_config(s.notify_path) if s.notify_path.exists() else None
            self.step_recorder = AlarmRecorder(s.tz, notify.channels_for if notify is not None else None, self.clock)
        step_recorder = self.step_recorder
        self.live = Hub()
        self.live_feed = LiveFeed(self.live, read_store, s.tz, last_seen=pipeline.last_seen,
                                  now_ms=pipeline.now_ms, offline_after_intervals=s.offline_after_intervals)
        self.live_feed.start()
        pipeline.on_committed.append(self.live_feed.on_committed)
        pipeline.registry_loaders.append(self.live_feed.load_devices)
        self._tasks.append(asyncio.create_task(self.live_feed.run()))
        context = ApiContext(s, pipeline, read_store, writer, lambda: len(hj212.connections) if hj212 else 0,
                             recorder=lambda: alarms.recorder if alarms is not None else step_recorder,
                             live=self.live, readers=self.readers, rules=self._rules_in_force,
                             cameras=self.cameras, forwarding=self.forwarding)
        self.http = HttpServer(create_app(context), access_log=s.data_dir / "access.log",
                               request_timeout_s=s.http_request_timeout_s, max_connections=self._caps.http)
        await self.http.start(s.http_host, s.http_port)
        self.reports = ReportScheduler(s, pipeline.now_ms, self._rules_in_force)
        self._tasks.append(asyncio.create_task(self.reports.run()))

    @functools.cached_property
    def _caps(self) -> ConnectionCaps:
        """Each port's connections capped within the open-file limit, leaving room for the other."""
        s = self.settings
        caps = connection_caps(open_files_limit(), s.max_connections, s.http_max_connections)
        if caps.warning:
            log.warning("%s", caps.warning)
        return caps

    def _rules_in_force(self) -> tuple[RuleSet, RuleCatalog] | None:
        """The engine's rules and registry view as they are now (they change on reloads)."""
        engine = self.alarms.engine if self.alarms is not None else None
        return None if engine is None else (engine.rules, engine.catalog)

    def _claim(self, devices: dict[str, DeviceInfo]) -> None:
        """Claim quarantine on the writer thread: after every earlier write, racing none."""
        assert self.writer is not None
        s = self.settings
        handler = Hj212Handler(OfflinePort(self.clock), s.tz, future_tolerance_s=s.future_tolerance_s,
                                   strict=bool(s.hj212_strict))
        self.writer.submit_job(lambda store: claim_quarantined(store, handler, devices))

    @property
    def hj212_port(self) -> int:
        assert self.hj212 is not None
        return self.hj212.port

    @property
    def http_port(self) -> int:
        assert self.http is not None, "the HTTP API is not served (Platform(..., http=True))"
        return self.http.port

    async def stop(self) -> None:
        """Stop accepting, store everything already received, close the database."""
        for task in self._tasks:
            task.cancel()
        if self.live is not None:
            self.live.close("the platform is stopping")  # open streams end, so the HTTP server can stop
        if self.http is not None:
            await self.http.close()  # requests in flight get their answers (their batches are committed)
        if self.cameras is not None:
            await self.cameras.stop()  # grabs in flight are given up; the alarms were recorded long ago
        if self.readers is not None:
            self.readers.close()
        if self.reports is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.reports.close)
        if self.forwarding is not None:
            await self.forwarding.stop()  # what is not answered for stays in the outbox for the next start
        if self.modbus is not None:
            await self.modbus.close()  # a poll in flight stored nothing yet
        if self.mqtt is not None:
            await self.mqtt.close()  # messages being stored finish; unacknowledged ones come again
        if self.hj212 is not None:
            await self.hj212.close()  # connections hand over what they held
        if self.feed is not None:
            await self.feed.close()  # what it did not acknowledge comes again to the next worker
        if self.alarms is not None:
            await self.alarms.stop()  # the engine's state goes in the last batch
        if self.pipeline is not None:
            self.pipeline.flush_rejections()  # counted in memory until now
        if self.aggregator is not None:
            self.aggregator.flush()  # the minutes noted last are queued in the store for the next start
        if self.writer is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.writer.close)
        await asyncio.sleep(0)  # run the last commit's callbacks
        if self.bus is not None:
            await self.bus.close()  # what the last commits told reaches the bus first
        for store in (self.store, self.read_store, self._activity_store):
            if store is not None:
                store.close()
        thaw()
        restore()
