"""The ingest pipeline: the one way data gets into the store.

Adapters (HJ 212 TCP today; MQTT, HTTP and Modbus later) decode what their devices send into
an :class:`~forewarn.store.base.IngestBatch` and hand it here with a callback. The pipeline
knows the registered devices (cached in memory, reloaded when the registry changes), sends
batches to the single writer thread, and calls the adapter back on the event loop once the
batch is committed, so the adapter can answer its device. It also counts and logs every
rejection with its reason: data is either stored or rejected for a reason somebody can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from forewarn.logs import Throttle
from forewarn.store.base import DeviceInfo, IngestBatch, Rejection, Store
from forewarn.store.writer import BatchWriter, WriteDone, WriterClosed, run_callbacks

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


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
    ) -> None:
        self.store = store  # a read connection, used on the loop thread only
        self.writer = writer
        self.loop = loop
        self.clock = clock
        self.devices: dict[str, DeviceInfo] = store.device_infos()
        self.registry_version = store.registry_version()
        self.quarantine_max = quarantine_max
        self.quarantine_size = store.quarantine_size()
        self._log = Throttle(log)
        #: judges each batch before it is stored (None: no rules)
        self.judge: Callable[[IngestBatch, int], None] | None = None
        #: device id -> last heard (ms), for the silence check
        self.last_seen: dict[int, int] = store.last_seen()
        #: called with all registered devices after the registry changed
        self.on_registry_change: list[Callable[[dict[str, DeviceInfo]], None]] = []
        #: called on the loop with each submitted batch once it is committed (never before, never
        #: for a batch that could not be stored): the live stream shows only stored data
        self.on_committed: list[Callable[[IngestBatch], None]] = []
        writer.dispatch = self._dispatch

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def device(self, mn: str) -> DeviceInfo | None:
        return self.devices.get(mn)

    def quarantine_has_room(self) -> bool:
        return self.quarantine_size < self.quarantine_max

    def submit(self, batch: IngestBatch, on_stored: WriteDone | None = None) -> None:
        """Queue a batch for the writer; ``on_stored`` runs on the loop after the commit."""
        self.quarantine_size += len(batch.quarantine)
        for device_id, (_, last, _) in batch.activity.items():
            if last > self.last_seen.get(device_id, 0):
                self.last_seen[device_id] = last
        if self.judge is not None and (batch.readings or batch.activity):
            try:
                self.judge(batch, self.now_ms())
            except Exception:  # a rule bug must never cost data: store it unjudged, loudly
                log.exception("the rule engine failed on a batch; it is stored without judgement")
                batch.rule_events.clear()
                batch.rule_states.clear()
        if self.on_committed:
            on_stored = self._notify_committed(batch, on_stored)
        try:
            self.writer.submit(batch, on_stored)
        except WriterClosed as exc:
            self._log.warning("writer_closed", "not stored: %s", exc)
            if on_stored is not None:
                on_stored(exc)

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
        """Count and log a rejected packet; the count is stored with the next batch."""
        self._log.warning(
            reason, "rejected a packet from %s%s: %s %s", peer or "?", f" MN={mn}" if mn else "",
            reason, detail,
        )
        self.submit(IngestBatch(rejections=[Rejection(reason, self.now_ms(), mn, detail)]))

    def _dispatch(self, callbacks: list[WriteDone], error: BaseException | None) -> None:
        """From the writer thread: run this commit's callbacks on the loop, in one wake-up."""
        if self.loop.is_closed():
            return
        # the loop may stop while the last batch is being written
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(run_callbacks, callbacks, error)

    def reload_registry_if_changed(self) -> bool:
        """Reload the device cache when another command changed the registry."""
        self.quarantine_size = self.store.quarantine_size()
        version = self.store.registry_version()
        if version == self.registry_version:
            return False
        self.registry_version = version
        self.devices = self.store.device_infos()
        log.info("registry changed: %d devices", len(self.devices))
        for listener in self.on_registry_change:
            listener(dict(self.devices))
        return True

    async def watch_registry(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                self.reload_registry_if_changed()
            except Exception:
                log.exception("reloading the registry failed; will retry")
