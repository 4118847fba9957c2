"""The platform's side of the bus: what this process tells the others, and what it does on hearing.

Told: every committed batch's readings (one :class:`ReadingsCommitted` per device and kind) and
every registry change this process noticed (:class:`RegistryChanged` with the version now in
force). Heard: a :class:`RegistryChanged` newer than the registry in force here reloads it at
once, instead of at the next ``registry_poll_s`` (which stays, as the fallback for a bus that
was away).

The device loop never waits for the bus. The commit listener only builds the events and
appends them to an outbox; one task publishes the outbox in batches (pipelined, each batch
waiting for its PubAcks and retried by the bus through reconnects). The data is committed
before any of this runs and the device's answer follows at once, so a bus that is slow or
away costs no device its answer: the outbox grows up to ``outbox_max`` events, then further
events are dropped, counted in :attr:`PlatformLink.dropped` and logged (once a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from forewarn.bus.base import Bus, BusClosed, Subscription
from forewarn.bus.events import REGISTRY, Event, ReadingsCommitted, RegistryChanged
from forewarn.bus.open import open_bus
from forewarn.config import Settings
from forewarn.logs import Throttle
from forewarn.store.base import DeviceInfo, IngestBatch

__all__ = ["PlatformLink", "link_platform"]

log = logging.getLogger(__name__)

#: events sent to the bus in one pipelined batch
PUBLISH_BATCH = 256
#: how long stopping waits for the outbox to reach the bus
FLUSH_S = 5.0


class Pipeline(Protocol):
    """What the link needs of the ingest pipeline (forewarn.ingest.pipeline.Pipeline), named
    here so that the bus depends on nothing above it."""

    devices: dict[str, DeviceInfo]
    registry_version: int
    on_committed: list[Callable[[IngestBatch], None]]
    on_registry_change: list[Callable[[dict[str, DeviceInfo]], None]]

    async def reload_registry(self) -> bool: ...


async def link_platform(settings: Settings, pipeline: Pipeline, *, outbox_max: int = 100_000) -> PlatformLink:
    """Open the bus of ``settings.bus`` and link the pipeline to it (BusUnavailable: one line)."""
    bus = await open_bus(settings.bus, partitions=settings.bus_partitions)
    link = PlatformLink(bus, pipeline, outbox_max=outbox_max)
    await link.start()
    return link


class PlatformLink:
    """Publishes what the pipeline committed and changed; reloads on others' registry changes."""

    def __init__(self, bus: Bus, pipeline: Pipeline, *, outbox_max: int = 100_000) -> None:
        self.bus = bus
        self.pipeline = pipeline
        self.outbox_max = outbox_max
        self._outbox: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._mn: dict[int, str] = {d.id: d.mn for d in pipeline.devices.values()}
        self._task: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        self._reloads: set[asyncio.Task[bool]] = set()
        self._log = Throttle(log)
        #: events the bus acknowledged
        self.published = 0
        #: events given up: the outbox was full, or the bus refused them for good
        self.dropped = 0
        #: registry reloads started by another process's RegistryChanged
        self.reloads = 0

    async def start(self) -> None:
        self.pipeline.on_committed.append(self.on_committed)
        self.pipeline.on_registry_change.append(self.on_registry_change)
        self._task = asyncio.create_task(self._publish())
        self._sub = await self.bus.subscribe([REGISTRY], self._heard)

    # told ---------------------------------------------------------------------------------

    def on_committed(self, batch: IngestBatch) -> None:
        """On the loop, right after the commit (before the devices' answers): cheap, never waits."""
        mn = self._mn
        for readings in batch.readings:
            self._put(ReadingsCommitted(device_id=readings.device_id, mn=mn.get(readings.device_id, ""),
                                        kind=str(readings.kind), rows=readings.rows))

    def on_registry_change(self, devices: dict[str, DeviceInfo]) -> None:
        self._mn = {d.id: d.mn for d in devices.values()}
        self._put(RegistryChanged(version=self.pipeline.registry_version))

    def _put(self, event: Event) -> None:
        if len(self._outbox) >= self.outbox_max:
            self.dropped += 1
            self._log.warning("bus_outbox_full", "the bus's outbox is full (%d events): an event is dropped, %d "
                              "so far (the data is stored; other processes learn of it later)", self.outbox_max,
                              self.dropped)
            return
        self._outbox.append(event)
        self._idle.clear()
        self._wake.set()

    async def _publish(self) -> None:
        outbox = self._outbox
        while True:
            if not outbox:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            events = [outbox.popleft() for _ in range(min(len(outbox), PUBLISH_BATCH))]
            try:
                await self.bus.publish_many(events)  # retried through reconnects until acknowledged
            except BusClosed:
                return
            except Exception as exc:  # refused for good (never a reason to stop the platform)
                self.dropped += len(events)
                self._log.warning("bus_publish_failed", "the bus refused %d events (%s); %d dropped so far",
                                  len(events), exc, self.dropped)
                continue
            self.published += len(events)

    # heard --------------------------------------------------------------------------------

    def _heard(self, event: Event) -> None:
        if isinstance(event, RegistryChanged) and event.version > self.pipeline.registry_version:
            self.reloads += 1
            task = asyncio.create_task(self.pipeline.reload_registry())  # shared with any reload under way
            self._reloads.add(task)
            task.add_done_callback(self._reloaded)

    def _reloaded(self, task: asyncio.Task[bool]) -> None:
        self._reloads.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("reloading the registry on another process's change failed (%s); the poll retries",
                        task.exception())

    # -----------------------------------------------------------------------------------------

    def outbox_size(self) -> int:
        return len(self._outbox)

    async def close(self) -> None:
        """Give the outbox up to FLUSH_S to reach the bus, then close it."""
        with contextlib.suppress(ValueError):
            self.pipeline.on_committed.remove(self.on_committed)
        with contextlib.suppress(ValueError):
            self.pipeline.on_registry_change.remove(self.on_registry_change)
        try:
            await asyncio.wait_for(self._idle.wait(), FLUSH_S)
        except TimeoutError:
            log.warning("stopping with %d events not yet on the bus", len(self._outbox))
        for task in [*self._reloads, *([self._task] if self._task else [])]:
            task.cancel()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.close()
        await self.bus.close()
