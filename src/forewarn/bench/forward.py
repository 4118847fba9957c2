"""``forewarn bench forward``: forwarding to a real forewarn above, on loopback.

Two platforms in one process, as ``tests/integration/test_forwarding.py`` links them: a
district with ``--devices`` electricity monitors (30 values a frame) forwarding everything to a
city that registered the same devices.

1. **Backlog drain**: the city is down while the district stores ``--frames`` frames from its
   devices (over HJ 212, each answered 9014); then the city starts, and the time until the
   district's outbox is empty gives the drain rate (values and frames a second, each answered
   9014 by the city after its commit).
2. **Steady load**: devices send ``--rate`` frames a second for ``--seconds``; the backlog,
   sampled every 0.1 s, and that backlog in seconds of input say how far the city trails.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from forewarn.app import Platform
from forewarn.bench.ingest import POINTS_PER_FRAME, _frames, _register
from forewarn.config import load_settings

__all__ = ["run_forward_bench"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _send(port: int, frames: list[bytes], rate: float | None = None) -> None:
    """One device connection: send, each frame answered 9014 before the next (at ``rate``/s)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    for n, frame in enumerate(frames):
        if rate is not None:
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        writer.write(frame)
        answer = b""
        while b"CN=9014" not in answer:
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError("the district closed the connection")
            answer += chunk
    writer.close()


def _backlog(platform: Platform) -> int:
    assert platform.read_store is not None
    return int(platform.read_store.db.execute("SELECT COUNT(*) FROM forward_outbox").fetchone()[0])


async def _run(tmp: Path, devices: int, frames: int, rate: float, seconds: float) -> None:
    base = load_settings(None, rules_enabled=0, aggregation_enabled=0, hj212_host="127.0.0.1", hj212_port=0)
    city_port = _free_port()
    city = replace(base, data_dir=tmp / "city", hj212_port=city_port)
    district = replace(base, data_dir=tmp / "district")
    for s in (city, district):
        s.data_dir.mkdir(parents=True)
        _register(s, devices)
    (district.data_dir / "forward.toml").write_text(
        f'[[target]]\nname = "city"\nhost = "127.0.0.1"\nport = {city_port}\npassword = "123456"\nwindow = 16\n',
        encoding="utf-8")
    down = Platform(district)
    await down.start()
    try:
        per_device = max(1, frames // devices)
        batches = [_frames(d, per_device) for d in range(devices)]
        await asyncio.gather(*(_send(down.hj212_port, b) for b in batches))
        backlog = _backlog(down)
        print(f"backlog: {per_device * devices:,} frames, {backlog:,} values stored while the city was down")
        up = Platform(city)
        started = time.perf_counter()
        await up.start()
        while _backlog(down) == backlog:  # the sender is backing off: it comes back within its delay
            await asyncio.sleep(0.01)
        first = time.perf_counter()
        while _backlog(down):
            await asyncio.sleep(0.01)
        drained = time.perf_counter() - first
        print(f"reconnected {first - started:.1f} s after the city started (the sender's backoff)")
        print(f"drain: {drained:.2f} s from the first answer: {backlog / drained:,.0f} values/s, "
              f"{per_device * devices / drained:,.0f} frames/s answered by the city")

        backlogs: list[int] = []
        steady = [_frames(d, per_device + int(rate * seconds / devices) + 1)[per_device:] for d in range(devices)]
        sending = asyncio.gather(*(_send(down.hj212_port, b, rate / devices) for b in steady))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            backlogs.append(_backlog(down))
            await asyncio.sleep(0.1)
        await sending
        per_s = rate * POINTS_PER_FRAME
        print(f"steady {rate:g} frames/s ({per_s:,.0f} values/s) for {seconds:g} s: backlog median "
              f"{statistics.median(backlogs):,.0f} values (~{statistics.median(backlogs) / per_s * 1000:.0f} ms "
              f"behind), max {max(backlogs):,} (~{max(backlogs) / per_s * 1000:.0f} ms)")
        await up.stop()
    finally:
        await down.stop()


def run_forward_bench(*, devices: int = 50, frames: int = 5000, rate: float = 200.0, seconds: float = 10.0) -> int:
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-forward-") as tmp:
        asyncio.run(_run(Path(tmp), devices, frames, rate, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_forward_bench())
