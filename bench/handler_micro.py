"""Micro-benchmark: the pure HJ 212 handler (parse, judge, readings, answer) per frame, no I/O.

Run: .venv/bin/python bench/handler_micro.py
The port below stands in for the pipeline so that only the handler's own work is timed; it
is a benchmark harness, not a test.
"""

from __future__ import annotations

import timeit
from zoneinfo import ZoneInfo

from forewarn.bench.ingest import POINTS_PER_FRAME, _frames, _mn
from forewarn.protocols.hj212.crc import hj212_crc, hj212_crc_bytewise
from forewarn.protocols.hj212.framing import StreamFramer
from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.store.base import DeviceInfo, IngestBatch

FRAMES = 200
DEVICE = DeviceInfo(1, _mn(0), "123456", 60, frozenset(), "hj212")


class _Port:
    def device(self, mn: str) -> DeviceInfo:
        return DEVICE

    def submit(self, batch: IngestBatch, on_stored: object = None) -> None:
        if callable(on_stored):
            on_stored(None)

    def reject(self, reason: str, **kw: str) -> None:
        raise AssertionError(reason, kw)

    def quarantine_has_room(self) -> bool:
        return True

    def now_ms(self) -> int:
        return 1_800_000_000_000


class _Conn:
    peer = "bench"

    def send(self, data: bytes) -> None:
        pass

    def hold(self) -> None:
        pass

    def release(self) -> None:
        pass


def main() -> None:
    frames = _frames(0, FRAMES)
    handler = Hj212Handler(_Port(), ZoneInfo("Asia/Shanghai"))
    conn = _Conn()
    stream = b"".join(frames)

    def run() -> None:
        for raw in StreamFramer().feed(stream):
            handler.handle(raw, conn)

    per_frame = min(timeit.repeat(run, number=5, repeat=5)) / 5 / FRAMES
    print(f"handler: {per_frame * 1e6:.1f} us a frame, {per_frame / POINTS_PER_FRAME * 1e6:.2f} us a point")
    # the same frames with their CRC in lowercase: a deviation the default tolerates and counts
    lower = [f[:-6] + f[-6:-2].lower() + f[-2:] for f in frames]
    quirky = sum(1 for a, b in zip(frames, lower, strict=True) if a != b)
    lower_stream = b"".join(lower)

    def run_lower() -> None:
        for raw in StreamFramer().feed(lower_stream):
            handler.handle(raw, conn)

    per_frame = min(timeit.repeat(run_lower, number=5, repeat=5)) / 5 / FRAMES
    print(f"handler, lowercase CRC ({quirky} of {FRAMES} frames): {per_frame * 1e6:.1f} us a frame")
    segment = frames[0][6:-6]
    for fn in (hj212_crc, hj212_crc_bytewise):
        t = min(timeit.repeat(lambda fn=fn: fn(segment), number=500, repeat=7)) / 500
        print(f"{fn.__name__}: {t * 1e6:.1f} us for {len(segment)} bytes")


if __name__ == "__main__":
    main()
