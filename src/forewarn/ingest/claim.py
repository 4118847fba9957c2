"""Quarantined packets become ordinary data once their device is registered.

Used by a running server (as a job on its writer thread, after it notices a registry change,
so that it sees every packet quarantined before and races with no other write) and by
``forewarn registry import`` (for a server that is not running), through the same handler
logic that judges live frames: a claimed packet is stored exactly as it would have been had
the device been registered when it arrived. The device is never asked to send it again.
Packets the registered device still cannot claim (wrong password, a quirk it is not allowed)
stay in quarantine with the reason, until the registry is corrected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.protocols.http.telemetry import PayloadError
from forewarn.protocols.mqtt.layouts import replay
from forewarn.store.base import DeviceInfo, IngestBatch, ReadingBatch, Store

__all__ = ["ClaimCounts", "OfflinePort", "claim_quarantined"]

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000


@dataclass(slots=True)
class ClaimCounts:
    claimed: int = 0
    refused: int = 0


def claim_quarantined(
    store: Store, handler: Hj212Handler, devices: dict[str, DeviceInfo]
) -> ClaimCounts:
    """Claim the quarantined packets of every registered device; writes through ``store``."""
    counts = ClaimCounts()
    for mn in sorted(store.quarantined_mns()):
        device = devices.get(mn)
        if device is None:
            continue
        batch, refused = handler.claim(device, store.quarantined(mn))
        refused += claim_messages(device, store.quarantined_messages(mn), batch)
        store.write(batch)
        counts.claimed += len(batch.claimed_quarantine)
        counts.refused += refused
        if batch.claimed_quarantine:
            log.info("MN=%s: %d quarantined packets stored as readings", mn, len(batch.claimed_quarantine))
        if refused:
            log.warning(
                "MN=%s: %d quarantined packets still refused (%s); they stay in quarantine "
                "until the registry is corrected", mn, refused, batch.refused_quarantine[0][1],
            )
    return counts


def claim_messages(device: DeviceInfo, messages: list[tuple[int, int, bytes, str]], batch: IngestBatch) -> int:
    """Add a registered device's quarantined MQTT message parts to ``batch``, read as they were
    when they came (a payload without ``ts`` was sampled when it arrived); return how many
    are still refused (they stay, with the reason)."""
    refused = 0
    for row_id, received_ms, raw, fmt in messages:
        try:
            rows = replay(fmt, raw, device.mn, received_ms, received_ms + _DAY_MS)
        except (PayloadError, ValueError) as exc:
            refused += 1
            batch.refused_quarantine.append((row_id, str(exc)))
            continue
        for (mn, kind), found in rows.rows.items():
            if mn == device.mn:
                batch.readings.append(ReadingBatch(device.id, kind, found))
        batch.claimed_quarantine.append(row_id)
        batch.note_activity(device.id, received_ms, received_ms)
    batch.counters["packets_claimed"] += len(messages) - refused
    return refused


class OfflinePort:
    """The ingest port of a command that runs without a server (e.g. a registry import)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def device(self, mn: str) -> DeviceInfo | None:
        return None

    def submit(self, batch: IngestBatch, on_stored: object = None) -> None:
        raise RuntimeError("an offline command writes through its store, not the pipeline")

    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None:
        log.warning("MN=%s: %s %s", mn, reason, detail)

    def quarantine_has_room(self) -> bool:
        return False

    def now_ms(self) -> int:
        return int(self._clock() * 1000)
