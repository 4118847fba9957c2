"""Quarantined packets become ordinary data once their device is registered.

Used by a running server (after it notices a registry change) and by ``forewarn registry
import`` (for a server that is not running), through the same handler logic that judges live
frames, so a claimed packet is stored exactly as it would have been had the device been
registered when it arrived. The device is never asked to send anything again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.store.base import DeviceInfo, IngestBatch, Store

__all__ = ["OfflinePort", "claim_quarantined"]

log = logging.getLogger(__name__)


def claim_quarantined(
    store: Store,
    handler: Hj212Handler,
    devices: Iterable[DeviceInfo],
    submit: Callable[[IngestBatch], None],
) -> int:
    """Claim the quarantined packets of ``devices``; return how many packets were claimed."""
    claimed = 0
    for device in devices:
        packets = store.quarantined(device.mn)
        if not packets:
            continue
        batch = handler.claim(device, packets)
        submit(batch)
        claimed += len(packets)
        log.info(
            "MN=%s registered: %d quarantined packets claimed (%d readings, %d refused)",
            device.mn, len(packets), batch.row_count(), len(batch.rejections),
        )
    return claimed


class OfflinePort:
    """The ingest port of a command that runs without a server (e.g. a registry import)."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._devices = store.device_infos()
        self._clock = clock

    def device(self, mn: str) -> DeviceInfo | None:
        return self._devices.get(mn)

    def submit(self, batch: IngestBatch, on_stored: object = None) -> None:
        raise RuntimeError("an offline command writes through its store, not the pipeline")

    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None:
        log.warning("MN=%s: %s %s", mn, reason, detail)

    def now_ms(self) -> int:
        return int(self._clock() * 1000)
