"""forewarn bench flood: what a good device feels while another peer floods the HJ 212 port.

Three processes, so the flood costs the server what it would cost it in the field: the
server (a platform on loopback, sampling its writer queue and its RSS), the flooder (one
connection at a time sending as fast as TCP takes it, and connecting again each time it is
cut off), and the good device here (one data packet at a time with the A flag, each 9014
timed). Floods: ``malformed`` is ``##`` followed by random bytes (issue 12, item 7);
``valid`` is a registered device's real frames at full speed, never reading its answers
(what backpressure is for).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["run_flood_bench"]

GOOD = "GOOD0000000000000000001"
FAST = "FAST0000000000000000001"


def _rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _packet(mn: str, n: int) -> bytes:
    from forewarn.protocols.hj212.codec import wrap

    day, rest = divmod(n, 1440)
    dt = f"202611{1 + day % 28:02d}{rest // 60:02d}{rest % 60:02d}00"
    return wrap(f"QN={dt}000;ST=22;CN=2011;PW=123456;MN={mn};Flag=5;CP=&&DataTime={dt};a34002-Rtd={n % 97}&&")


def _server(data_dir: str, port_q: Any, stop_q: Any) -> None:
    from forewarn.app import Platform
    from forewarn.cli.registry import import_files
    from forewarn.config import load_settings

    settings = load_settings(None, data_dir=Path(data_dir), hj212_host="127.0.0.1", hj212_port=0)
    sheet = Path(data_dir).parent / "devices.csv"
    sheet.write_text(
        "region_code,region_name,parent_region_code,enterprise,site,site_type,longitude,latitude,mn,password,"
        "interval_s,leniency\n"
        f"451202,金城江区,451200,企业,站一,lpg_station,108.06,24.69,{GOOD},123456,30,\n"
        f"451202,金城江区,451200,企业,站二,lpg_station,108.06,24.69,{FAST},123456,30,\n",
        encoding="utf-8",
    )
    import_files(settings, [sheet])

    async def run() -> None:
        platform = Platform(settings)
        await platform.start()
        assert platform.writer is not None and platform.hj212 is not None
        peak = {"queue": 0, "rss": 0}
        before = _rss_kib()

        async def sample() -> None:
            while True:
                peak["queue"] = max(peak["queue"], platform.writer.queue_depth())  # type: ignore[union-attr]
                peak["rss"] = max(peak["rss"], _rss_kib())
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        port_q.put(platform.hj212_port)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, stop_q.get)  # the flood is over
        await asyncio.sleep(3.0)  # memory after the flood, once the queue has drained
        sampler.cancel()
        after = _rss_kib()
        pauses = platform.hj212.pauses
        await platform.stop()
        from forewarn.store.sqlite import SqliteStore

        store = SqliteStore(settings.db_path, platform.catalogue)
        refused: dict[str, dict[str, object]] = store.status(0, 3)["rejections"]  # type: ignore[assignment]
        store.close()
        port_q.put({"rss_before": before, "rss_peak": peak["rss"], "rss_after": after, "queue_peak": peak["queue"],
                    "pauses": pauses, "rejections": {k: v["count"] for k, v in refused.items()}})

    asyncio.run(run())


def _flooder(port: int, mode: str, duration_s: float, out: Any) -> None:
    rng = random.Random(7)
    if mode == "malformed":
        chunk = b"".join(b"##" + rng.randbytes(rng.randint(20, 200)) for _ in range(2000))
    else:
        chunk = b"".join(_packet(FAST, n) for n in range(2000))

    async def run() -> tuple[int, int]:
        until = time.monotonic() + duration_s
        sent = cuts = 0
        while time.monotonic() < until:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            try:
                while time.monotonic() < until:
                    writer.write(chunk)
                    await asyncio.wait_for(writer.drain(), max(0.01, until - time.monotonic()))
                    sent += len(chunk)
            except (ConnectionError, TimeoutError):
                cuts += 1
            finally:
                writer.close()
        return sent, cuts

    out.put(asyncio.run(run()))


def run_flood_bench(*, duration_s: float, mode: str) -> int:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        port_q, stop_q, flood_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
        server = ctx.Process(target=_server, args=(str(Path(tmp) / "data"), port_q, stop_q))
        server.start()
        port = port_q.get(timeout=60)

        async def good(duration: float) -> list[float]:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            took: list[float] = []
            until = time.monotonic() + duration
            n = 0
            while time.monotonic() < until:
                n += 1
                t0 = time.perf_counter()
                writer.write(_packet(GOOD, n))
                buffer = b""
                while b"CN=9014" not in buffer:
                    data = await asyncio.wait_for(reader.read(4096), 30)
                    if not data:
                        raise ConnectionError("the platform closed the good device's connection")
                    buffer += data
                took.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.02)
            writer.close()
            return took

        calm = asyncio.run(good(3.0))
        flooder = ctx.Process(target=_flooder, args=(port, mode, duration_s, flood_q))
        flooder.start()
        during = asyncio.run(good(duration_s))
        sent, cuts = flood_q.get(timeout=60)
        flooder.join()
        stop_q.put("stop")
        report = port_q.get(timeout=120)
        server.join()

    def pct(xs: list[float], q: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]

    print(f"flood: {mode}, {duration_s:g} s, {sent / 1e6:.1f} MB written to its sockets by the flooder (most never "
          f"read: the platform closes a cut-off connection unread), cut off {cuts} times")
    for name, xs in (("calm", calm), ("during the flood", during)):
        print(f"good device {name}: {len(xs)} answers, 9014 p50 {statistics.median(xs):.1f} ms, "
              f"p99 {pct(xs, 0.99):.1f} ms, max {max(xs):.1f} ms")
    print(f"writer queue peak {report['queue_peak']}, connection pauses {report['pauses']}")
    print(f"server RSS {report['rss_before'] / 1024:.1f} MB before, {report['rss_peak'] / 1024:.1f} MB peak, "
          f"{report['rss_after'] / 1024:.1f} MB 3 s after")
    print(f"rejections stored: {report['rejections']}")
    return 0 if pct(during, 0.99) < 50 else 1
