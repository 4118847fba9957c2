"""What each data upload says of its device's clock and of repeats, noted on the way in.

The store keys readings by DataTime and keeps the first of each point and time, so it holds
neither when a packet arrived nor how often the same packet came. The screening needs both
(:mod:`forewarn.stats.checks.clock_drift`, :mod:`forewarn.stats.checks.repeats`): this notes,
per device, hour of receipt and kind, how many uploads came, how many repeated one of the
device's last :data:`REMEMBERED` (the same QN, or the same data segment under another QN),
and the receive time minus DataTime (min, max, sum). On the hot path it costs one hash of the
frame, a scan of a 16-slot deque and a dict update per packet; the store writes one row per
device and hour in the batch's transaction (``packet_clock``). Packets claimed from quarantine
are not noted: they arrive late by nature (kept while their device was unregistered).
"""

from __future__ import annotations

from collections import deque

from forewarn.store.base import IngestBatch

__all__ = ["REMEMBERED", "PacketLedger"]

#: uploads remembered per device to tell a repeat (a re-send comes within ~30 s, 3 times)
REMEMBERED = 16
_HOUR_MS = 3_600_000


class PacketLedger:
    """Remembers each device's last uploads (hashes only) and notes each new one in its batch."""

    def __init__(self) -> None:
        self._recent: dict[int, deque[int]] = {}

    def note(self, batch: IngestBatch, device_id: int, kind: str, received_ms: int, data_time_ms: int,
             qn: str | None, data: bytes) -> None:
        """Note one stored-or-repeated upload of ``device_id`` (``data``: its frame's bytes)."""
        recent = self._recent.get(device_id)
        if recent is None:
            recent = self._recent[device_id] = deque(maxlen=REMEMBERED)
        at = data.find(b"ST=")
        body = hash(data[at:-4] if at >= 0 else data)  # without QN and CRC, which differ between copies
        keys = (body,) if qn is None else (body, hash(qn))
        repeat = any(k in recent for k in keys)
        recent.extend(keys)
        batch.note_packet(device_id, received_ms - received_ms % _HOUR_MS, kind, received_ms - data_time_ms, repeat)

    def forget(self, device_id: int) -> None:
        self._recent.pop(device_id, None)
