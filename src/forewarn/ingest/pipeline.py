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
from collections import Counter
from collections.abc import Callable

from forewarn.store.base import DeviceInfo, IngestBatch, Rejection, Store
from forewarn.store.writer import BatchWriter, WriteDone, run_callbacks

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Pipeline:
    """Device lookup, batch submission, rejection accounting; lives on the event loop."""

    def __init__(
        self,
        store: Store,
        writer: BatchWriter,
        loop: asyncio.AbstractEventLoop,
        *,
        clock: Clock = time.time,
    ) -> None:
        self.store = store  # a read connection, used on the loop thread only
        self.writer = writer
        self.loop = loop
        self.clock = clock
        self.devices: dict[str, DeviceInfo] = store.device_infos()
        self.registry_version = store.registry_version()
        #: live counters since start (the store keeps the durable totals)
        self.stats: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self._last_log: dict[str, float] = {}
        #: called with the MNs that became registered after a registry reload
        self.on_registered: list[Callable[[list[DeviceInfo]], None]] = []
        writer.dispatch = self._dispatch

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def device(self, mn: str) -> DeviceInfo | None:
        return self.devices.get(mn)

    def submit(self, batch: IngestBatch, on_stored: WriteDone | None = None) -> None:
        """Queue a batch for the writer; ``on_stored`` runs on the loop after the commit."""
        self.stats["batches_submitted"] += 1
        self.writer.submit(batch, on_stored)

    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None:
        """Count and log a rejected packet; the count is stored with the next batch."""
        self.rejections[reason] += 1
        now = self.clock()
        if now - self._last_log.get(reason, 0.0) >= 1.0:  # at most one line a second per reason
            self._last_log[reason] = now
            log.warning(
                "rejected a packet from %s%s: %s %s (%d so far)",
                peer or "?", f" MN={mn}" if mn else "", reason, detail, self.rejections[reason],
            )
        self.writer.submit(IngestBatch(rejections=[Rejection(reason, int(now * 1000), mn, detail)]))

    def _dispatch(self, callbacks: list[WriteDone], error: BaseException | None) -> None:
        """From the writer thread: run this commit's callbacks on the loop, in one wake-up."""
        if self.loop.is_closed():
            return
        # the loop may stop while the last batch is being written
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(run_callbacks, callbacks, error)

    def reload_registry_if_changed(self) -> list[DeviceInfo]:
        """Reload the device cache when another command changed the registry."""
        version = self.store.registry_version()
        if version == self.registry_version:
            return []
        self.registry_version = version
        fresh = self.store.device_infos()
        added = [info for mn, info in fresh.items() if mn not in self.devices]
        self.devices = fresh
        log.info("registry changed: %d devices, %d new", len(fresh), len(added))
        for listener in self.on_registered:
            listener(added)
        return added

    async def watch_registry(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                self.reload_registry_if_changed()
            except Exception:
                log.exception("reloading the registry failed; will retry")

