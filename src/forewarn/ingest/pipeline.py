"""The ingest pipeline: the one way data gets into the store.

Adapters (HJ 212 TCP today; MQTT, HTTP and Modbus later) decode what their devices send into
an :class:`~forewarn.store.base.IngestBatch` and hand it here with a callback. The pipeline
knows the registered devices (cached in memory, reloaded when the registry changes), sends
batches to the single writer thread, and calls the adapter back on the event loop once the
batch is committed, so the adapter can answer its device. It also counts and logs every
rejection with its reason: data is either stored or rejected for a reason somebody can read.

A registry reload reads and builds everything new (the device cache, and through
:attr:`Pipeline.registry_loaders` the rule catalogue and the live feed's device map) on a
reader thread, from one snapshot, and only swaps the results in on the loop: with 10,000
devices the build takes over half a second, which on the loop every device's answer waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from forewarn.logs import Throttle, excerpt
from forewarn.store import registry_reads
from forewarn.store.base import DeviceInfo, IngestBatch, Rejection, Store
from forewarn.store.readers import ReaderPool, snapshot
from forewarn.store.writer import BatchWriter, WriteDone, WriterClosed, run_callbacks

__all__ = ["Judged", "Pipeline", "RegistryLoader"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
#: What one part of the platform makes of a registry change. It is called on a reader thread
#: with a connection inside the snapshot the new device cache is read from, builds what it
#: needs there, and returns the swap: a cheap function run on the loop that puts it in force.
RegistryLoader = Callable[[sqlite3.Connection], Callable[[], None]]
_Loaded = tuple[int, int, dict[str, DeviceInfo] | None, list[Callable[[], None]]]
#: rejections are counted in memory and stored at most this long after the first of a batch
REJECTIONS_FLUSH_S = 1.0


class Judged(Protocol):
    """What judging a batch changed in the rule engine (``rules.inflight.Journal``): the state
    it touched, and the way to keep it (committed) or undo it (not stored)."""

    @property
    def keys(self) -> frozenset[Hashable]: ...
    def settle(self, error: BaseException | None) -> None: ...


class Pipeline:
    """Device lookup, batch submission, rejection accounting; lives on the event loop."""

    def __init__(
        self,
        store: Store,
        writer: BatchWriter[Any],
        loop: asyncio.AbstractEventLoop,
        *,
        clock: Clock = time.time,
        quarantine_max: int = 200000,
        readers: ReaderPool,
    ) -> None:
        self.store = store  # a read connection, used on the loop thread only
        #: where registry reloads read and build, off the loop
        self.readers = readers
        self.writer = writer
        self.loop = loop
        self.clock = clock
        self.devices: dict[str, DeviceInfo] = store.device_infos()
        self.registry_version = store.registry_version()
        self.quarantine_max = quarantine_max
        self.quarantine_size = store.quarantine_size()
        self._log = Throttle(log)
        #: judges each batch before it is stored (None: no rules); what it returns is settled
        #: when the batch is committed or has failed
        self.judge: Callable[[IngestBatch, int], Judged | None] | None = None
        #: device id -> last heard (ms), for the silence check
        self.last_seen: dict[int, int] = store.last_seen()
        #: called on the loop with all registered devices after the registry changed (must be cheap)
        self.on_registry_change: list[Callable[[dict[str, DeviceInfo]], None]] = []
        #: run on a reader thread at each registry change; their swaps run on the loop
        self.registry_loaders: list[RegistryLoader] = []
        self._reloading: asyncio.Future[bool] | None = None
        self._reloads_asked = 0
        self._reloads_covered = 0
        #: called on the loop with each submitted batch once it is committed (never before, never
        #: for a batch that could not be stored): the live stream shows only stored data
        self.on_committed: list[Callable[[IngestBatch], None]] = []
        #: rejections counted since the last flush, by reason (see reject)
        self._rejections: dict[str, Rejection] = {}
        self._rejections_flush: asyncio.TimerHandle | None = None
        writer.dispatch = self._dispatch

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def device(self, mn: str) -> DeviceInfo | None:
        return self.devices.get(mn)

    def quarantine_has_room(self) -> bool:
        return self.quarantine_size < self.quarantine_max

    def submit(self, batch: IngestBatch, on_stored: WriteDone | None = None, *,
               judged: Judged | None = None) -> None:
        """Queue a batch for the writer; ``on_stored`` runs on the loop after the commit.

        The batch is judged first (or comes judged: ``judged``); the rule engine's view of it
        is kept when it is committed and undone when it is not."""
        self.quarantine_size += len(batch.quarantine)
        for device_id, (_, last, _) in batch.activity.items():
            if last > self.last_seen.get(device_id, 0):
                self.last_seen[device_id] = last
        if self.judge is not None and judged is None and (batch.readings or batch.activity):
            try:
                judged = self.judge(batch, self.now_ms())
            except Exception:  # a rule bug must never cost data: store it unjudged, loudly
                log.exception("the rule engine failed on a batch; it is stored without judgement")
                batch.rule_events.clear()
                batch.rule_states.clear()
        if self.on_committed:
            on_stored = self._notify_committed(batch, on_stored)
        keys: frozenset[Hashable] = frozenset()
        if judged is not None:
            keys = judged.keys
            on_stored = self._settle(judged, on_stored)
        try:
            self.writer.submit(batch, on_stored, keys)
        except WriterClosed as exc:
            self._log.warning("writer_closed", "not stored: %s", exc)
            if on_stored is not None:
                on_stored(exc)

    def _settle(self, judged: Judged, on_stored: WriteDone | None) -> WriteDone:
        """The engine hears first whether its judgement stands; when it is undone, the writer
        is told, so that it stops failing later batches for it (they are judged anew)."""
        def done(error: BaseException | None) -> None:
            judged.settle(error)
            if error is not None and judged.keys:
                with contextlib.suppress(WriterClosed):
                    self.writer.release(judged.keys)
            if on_stored is not None:
                on_stored(error)

        return done

    def _notify_committed(self, batch: IngestBatch, on_stored: WriteDone | None) -> WriteDone:
        def done(error: BaseException | None) -> None:
            if error is None:
                for listener in self.on_committed:
                    try:
                        listener(batch)
                    except Exception:  # a listener's bug must not cost the device its answer
                        log.exception("a commit listener failed")
            if on_stored is not None:
                on_stored(error)

        return done

    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None:
        """Count and log a rejection; the counts are stored together within a second.

        Counted here in memory, one entry per reason, and written as one batch by
        :meth:`flush_rejections`: a flood of 20,000 malformed frames a second once cost 20,000
        writer batches a second, queued without bound ahead of every good device's data. The
        peer's bytes in ``mn`` and ``detail`` are escaped and cut short before they reach the
        log or the store.
        """
        mn, detail = excerpt(mn, 64), excerpt(detail)
        self._log.warning(
            reason, "rejected from %s%s: %s %s", peer or "?", f" MN={mn}" if mn else "", reason, detail,
        )
        held = self._rejections.get(reason)
        self._rejections[reason] = Rejection(reason, self.now_ms(), mn, detail, 1 if held is None else held.count + 1)
        if self._rejections_flush is None:
            self._rejections_flush = self.loop.call_later(REJECTIONS_FLUSH_S, self.flush_rejections)

    def flush_rejections(self) -> None:
        """Hand the rejections counted since the last flush to the writer, as one batch."""
        if self._rejections_flush is not None:
            self._rejections_flush.cancel()
            self._rejections_flush = None
        if self._rejections:
            rejections, self._rejections = list(self._rejections.values()), {}
            self.submit(IngestBatch(rejections=rejections))

    def _dispatch(self, callbacks: list[WriteDone], error: BaseException | None) -> None:
        """From the writer thread: run this commit's callbacks on the loop, in one wake-up."""
        if self.loop.is_closed():
            return
        # the loop may stop while the last batch is being written
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(run_callbacks, callbacks, error)

    def reload_registry_if_changed(self) -> bool:
        """The same as :meth:`reload_registry`, waited for by blocking the loop (as every reload
        did before): only for callers that cannot await; every device waits meanwhile."""
        covers = self._reloads_asked = self._reloads_asked + 1
        changed = self._swap(self.readers.call_blocking(self._load_now))
        self._reloads_covered = max(self._reloads_covered, covers)
        return changed

    async def reload_registry(self) -> bool:
        """Reload the device cache (and what the loaders build) if the registry changed.

        Returns once a reload that began after this call is in force, so a handler that just
        retired a device can answer knowing its packets are refused. Callers arriving while a
        reload runs share the next one: ten edits in a burst cost two reloads, not ten.
        """
        self._reloads_asked += 1
        asked = self._reloads_asked
        changed = False
        while self._reloads_covered < asked:
            if self._reloading is None:
                self._reloading = asyncio.ensure_future(self._reload())
            changed = await asyncio.shield(self._reloading) or changed
        return changed

    async def _reload(self) -> bool:
        covers = self._reloads_asked
        try:
            loaded = await self.readers.call(self._load_now)
        finally:
            self._reloading = None
        self._reloads_covered = max(self._reloads_covered, covers)
        return self._swap(loaded)

    def _load_now(self) -> _Loaded:
        """On a reader thread: from one SQLite snapshot; or, on a store with connections of its
        own (PostgreSQL), through the store's interface, the version read before the devices (a
        cache newer than its version is only reloaded once more). Registry loaders are SQLite's:
        the roles that register them do not run on another store yet (forewarn.roles)."""
        if self.readers.sqlite:
            return self.readers.here(snapshot(self._load))
        version = self.store.registry_version()
        size = self.store.quarantine_size()
        if version <= self.registry_version:
            return version, size, None, []
        assert not self.registry_loaders, "registry loaders need a SQLite connection"
        return version, size, self.store.device_infos(), []

    def _load(self, db: sqlite3.Connection) -> _Loaded:
        """On a reader thread: the registry's version, and if it moved, everything new."""
        version = registry_reads.registry_version(db)
        size = registry_reads.quarantine_size(db)
        if version <= self.registry_version:
            return version, size, None, []
        return version, size, registry_reads.device_infos(db), [load(db) for load in self.registry_loaders]

    def _swap(self, loaded: _Loaded) -> bool:
        """On the loop: put a reload's results in force, in one go (nothing awaits in between)."""
        version, size, devices, swaps = loaded
        self.quarantine_size = size
        if devices is None or version <= self.registry_version:  # none, or older than the one in force
            return False
        self.registry_version = version
        self.devices = devices
        log.info("registry changed: %d devices", len(devices))
        for swap in swaps:
            swap()
        for listener in self.on_registry_change:
            listener(dict(devices))
        return True

    async def watch_registry(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.reload_registry()
            except Exception:
                log.exception("reloading the registry failed; will retry")
