"""Benchmark: what publishing committed readings on the bus costs the loop that answers devices.

Run: .venv/bin/python bench/bus_publish.py [--batches 5000] [--devices 100] [--rows 10]

Three figures, for the in-process bus and for NATS JetStream (a nats-server -js of its own on a
free port, file storage in a temporary directory):

- **on the loop, per commit**: the time of the link's commit listener (``PlatformLink.on_committed``,
  which only builds the events and appends them to the outbox), for a commit of ``--devices``
  devices of ``--rows`` readings each, as the writer's group commit hands it over;
- **to the bus**: events acknowledged per second by the link's publisher (for NATS: PubAcks) and
  the time from the first commit to the last event acknowledged;
- **the loop's lag** meanwhile: a probe that sleeps 5 ms again and again records how late it wakes
  (p50, p99, max), which is what any device's answer would wait.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from forewarn.bus.links import PlatformLink
from forewarn.bus.open import open_bus
from forewarn.model import Kind
from forewarn.store.base import DeviceInfo, IngestBatch, ReadingBatch


class _Pipeline:
    """The pipeline's surface the link uses, without a store behind it."""

    def __init__(self, devices: int) -> None:
        self.devices = {f"MN{i:022d}": DeviceInfo(i, f"MN{i:022d}", "", 60, frozenset(), "hj212")
                        for i in range(devices)}
        self.registry_version = 1
        self.on_committed: list[object] = []
        self.on_registry_change: list[object] = []

    async def reload_registry(self) -> bool:
        return False


def _commit(n: int, devices: int, rows: int) -> IngestBatch:
    ts = 1_764_000_000_000 + n * 60_000
    return IngestBatch(readings=[
        ReadingBatch(d, Kind.RTD, [(f"a{c:05d}", "Rtd", ts, float(n + c), "N") for c in range(rows)])
        for d in range(devices)])


async def _probe(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = loop.time()
        await asyncio.sleep(0.005)
        lags.append((loop.time() - start - 0.005) * 1000)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _run(url: str, batches: int, devices: int, rows: int) -> dict[str, float]:
    bus = await open_bus(url)
    pipeline = _Pipeline(devices)
    link = PlatformLink(bus, pipeline)  # type: ignore[arg-type]
    await link.start()
    commits = [_commit(n, devices, rows) for n in range(batches)]
    lags: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(_probe(lags, stop))
    listener_ns: list[int] = []
    start = time.perf_counter()
    for n, commit in enumerate(commits):
        t0 = time.perf_counter_ns()
        link.on_committed(commit)
        listener_ns.append(time.perf_counter_ns() - t0)
        if n % 10 == 9:
            await asyncio.sleep(0)  # commits come one group commit at a time; the loop runs between
    want = batches * devices
    while link.published + link.dropped < want:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    await probe
    await link.close()
    return {"listener_us_median": statistics.median(listener_ns) / 1000, "listener_us_p99": _pct(
        [x / 1000 for x in listener_ns], 0.99), "events": want, "dropped": link.dropped,
        "events_per_s": want / elapsed, "elapsed_s": elapsed, "lag_p50_ms": _pct(lags, 0.5),
        "lag_p99_ms": _pct(lags, 0.99), "lag_max_ms": max(lags or [0.0])}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=2000, help="commits")
    parser.add_argument("--devices", type=int, default=20, help="devices per commit (one event each)")
    parser.add_argument("--rows", type=int, default=10, help="readings per device and commit")
    args = parser.parse_args()
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        server = subprocess.Popen([binary, "-js", "-sd", str(Path(tmp) / "js"), "-a", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            for url in ("memory://", f"nats://127.0.0.1:{port}"):
                r = asyncio.run(_run(url, args.batches, args.devices, args.rows))
                print(f"{url.split(':')[0]:<7} {args.batches} commits x {args.devices} devices x {args.rows} rows: "
                      f"listener {r['listener_us_median']:.1f} us median ({r['listener_us_p99']:.1f} p99) a commit; "
                      f"{r['events_per_s']:,.0f} events/s acknowledged ({r['events']:,.0f} in {r['elapsed_s']:.2f} s, "
                      f"{r['dropped']:.0f} dropped); loop lag p50 {r['lag_p50_ms']:.2f} ms, p99 "
                      f"{r['lag_p99_ms']:.2f} ms, max {r['lag_max_ms']:.2f} ms")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
