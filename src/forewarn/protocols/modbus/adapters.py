"""The platform's Modbus pollers: one task per device with a register map, kept in step with
the registry.

At start every active device's map is read; at each registry change (an import in this or
another process moves the registry's version) the maps are read again on a reader thread, as
a :data:`~forewarn.ingest.pipeline.RegistryLoader`, and on the loop only the pollers whose map
changed are restarted, those of devices gone (retired, map removed) stopped and new ones started.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

from forewarn.ingest.pipeline import Pipeline
from forewarn.protocols.modbus.poller import DevicePoller
from forewarn.store import modbus as sql
from forewarn.store.modbus import ModbusMap

__all__ = ["ModbusAdapters"]

log = logging.getLogger(__name__)


class ModbusAdapters:
    def __init__(self, pipeline: Pipeline, db: sqlite3.Connection, *, backoff_max_s: float) -> None:
        """``db``: a read connection used once, at :meth:`start` (later reads run on reader threads)."""
        self.pipeline = pipeline
        self.backoff_max_s = backoff_max_s
        self._db = db
        #: device id -> (its map, its poller, the poller's task)
        self.pollers: dict[int, tuple[ModbusMap, DevicePoller, asyncio.Task[None]]] = {}
        self._closed = False

    def start(self) -> None:
        # pymodbus logs every timeout and lost connection at ERROR, unthrottled: with many devices
        # down that floods the log. The pipeline's rejections say the same, counted, at most one
        # line per reason a second (forewarn.logs.Throttle).
        logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)
        self._apply(sql.maps(self._db))
        self.pipeline.registry_loaders.append(self._load)

    def _load(self, db: sqlite3.Connection) -> Callable[[], None]:
        """On a reader thread, at a registry change: the maps now; the swap applies them on the loop."""
        found = sql.maps(db)
        return lambda: self._apply(found)

    def _apply(self, found: list[ModbusMap]) -> None:
        if self._closed:
            return
        wanted = {m.device_id: m for m in found if m.registers}
        for device_id in list(self.pollers):
            held = self.pollers[device_id][0]
            if wanted.get(device_id) != held:
                self._stop(device_id)
        for device_id, device in wanted.items():
            if device_id in self.pollers:
                continue
            poller = DevicePoller(device, self.pipeline, backoff_max_s=self.backoff_max_s)
            task = asyncio.create_task(poller.run(), name=f"modbus {device.mn}")
            self.pollers[device_id] = (device, poller, task)
            c = device.connection
            log.info("Modbus: polling %s at %s:%d unit %d every %d s (%d registers in %d reads)", device.mn, c.host,
                     c.port, c.unit_id, c.interval_s, len(device.registers), len(poller.blocks))

    def _stop(self, device_id: int) -> None:
        _, poller, task = self.pollers.pop(device_id)
        task.cancel()
        poller.close()

    async def close(self) -> None:
        """Stop every poller; a poll in flight is given up (it stored nothing yet)."""
        self._closed = True
        tasks = [task for _, _, task in self.pollers.values()]
        for device_id in list(self.pollers):
            self._stop(device_id)
        await asyncio.gather(*tasks, return_exceptions=True)
