"""``forewarn bench ingest``: end-to-end ingest speed against the SQLite floor, and idle memory.

End to end: a fleet of electricity monitors (30 sub-fields a frame, like the ST=80 devices in
the field) is registered in a fresh data directory; a client *process* opens one TCP
connection per device and sends pre-built HJ 212 frames with the A bit set, keeping a window
of frames in flight; the platform answers each with 9014 only after its transaction commits.
The clock runs from the first byte sent to the last answer received, so the figure is
"points per second committed", not "points per second parsed".

The floor: the same number of rows, with the same shape, inserted with plain sqlite3
``executemany`` into the same schema in transactions of the same size: what SQLite itself
allows on this machine. The ratio says how much of that the platform keeps.

Idle memory: a server process with N open, silent device connections; its RSS growth divided
by N.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.config import Settings, load_settings
from forewarn.model import Period
from forewarn.protocols.hj212.codec import wrap
from forewarn.store import aggregates
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.migrate import migrate
from forewarn.store.sqlite import SqliteStore

__all__ = ["run_idle_bench", "run_ingest_bench"]

FIELDS = ("Ia", "Ib", "Ic", "Ua", "Ub", "Uc", "Pt", "Pa", "Pb", "Pc")
METERS = ("100001", "100002", "100003")
POINTS_PER_FRAME = len(FIELDS) * len(METERS)
WINDOW = 16  # frames in flight per connection


def _mn(i: int) -> str:
    return f"BENCH{i:019d}"


def _frames(device: int, count: int) -> list[bytes]:
    """``count`` frames of one device, one minute apart, each with 30 readings."""
    frames = []
    base = time.mktime((2026, 1, 1, 0, 0, 0, 0, 0, -1))
    for n in range(count):
        t = time.localtime(base + n * 60)
        dt = time.strftime("%Y%m%d%H%M%S", t)
        cp = ";".join(
            ",".join(
                f"{m}-{f}={(device * 7 + n * 3 + k) % 500 + 0.125:.3f}" for k, f in enumerate(FIELDS)
            )
            + f",{m}-Flag=N"
            for m in METERS
        )
        seg = (f"QN={dt}{n % 1000:03d};ST=80;CN=2011;PW=123456;MN={_mn(device)};Flag=5;"
               f"CP=&&DataTime={dt};{cp}&&")
        frames.append(wrap(seg))
    return frames


def _client(port: int, devices: int, frames_per_device: int, ready: mp.Queue, result: mp.Queue) -> None:  # type: ignore[type-arg]
    """Runs in its own process: send every device's frames, wait for every 9014."""
    payload = [_frames(d, frames_per_device) for d in range(devices)]
    ready.put(True)

    async def one(frames: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = answered = 0
        buffer = b""
        while answered < len(frames):
            while sent < len(frames) and sent - answered < WINDOW:
                writer.write(frames[sent])
                sent += 1
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("platform closed the connection")
            buffer += chunk
            answered += buffer.count(b"CN=9014")
            buffer = buffer[buffer.rfind(b"\r\n") + 2:] if b"\r\n" in buffer else buffer
        writer.close()

    async def all_devices() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(one(f) for f in payload))
        return time.perf_counter() - start

    result.put(asyncio.run(all_devices()))


ROLES = {"100001": "production", "100002": "treatment", "100003": "production"}


def _register(settings: Settings, devices: int) -> None:
    """Factories with electricity meters on two production lines and one treatment line, so
    that the power presets (treatment off, late start, early stop, idling) have work."""
    store = SqliteStore(settings.db_path, Catalogue())
    rows = [
        DeviceRow(region_code="140213", region_name="平城区", parent_region_code="140200",
                  enterprise=f"基准测试企业{i}", site="厂区", site_type="factory", mn=_mn(i),
                  longitude=113.3, latitude=40.08, password="123456", interval_s=60,
                  device_kind="power_meter")
        for i in range(devices)
    ]
    points = [PointRow(_mn(i), meter, field, role=ROLES[meter])
              for i in range(devices) for meter in METERS for field in FIELDS]
    store.apply_registry(rows, points)
    store.close()


def _end_to_end(settings: Settings, devices: int, frames_per_device: int) -> tuple[float, float | None]:
    """Seconds from the first frame sent to the last answer; and, with aggregation on, seconds
    more until the aggregation has caught up (nothing due is left in its queue)."""
    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    result: mp.Queue = ctx.Queue()  # type: ignore[type-arg]

    async def run() -> tuple[float, float | None]:
        platform = Platform(settings)
        await platform.start()
        proc = ctx.Process(
            target=_client, args=(platform.hj212_port, devices, frames_per_device, ready, result)
        )
        proc.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ready.get)
        elapsed: float = await loop.run_in_executor(None, result.get)
        ended = time.perf_counter()
        during = platform.aggregator.job_seconds if platform.aggregator is not None else 0.0
        assert platform.writer is not None
        commits = platform.writer.commit_seconds
        print(f"  the writer committed device data {commits.count} times, {commits.sum:.2f} s in all", flush=True)
        proc.join()
        catch_up = None
        if platform.aggregator is not None:
            assert platform.writer is not None
            while True:  # what the aggregation still has to do, asked of the writer after its queued jobs
                platform.aggregator.flush()
                platform.aggregator.poke()
                asked: asyncio.Future[int] = loop.create_future()
                now = platform.pipeline.now_ms() if platform.pipeline else 0

                def due(store: SqliteStore, asked: asyncio.Future[int] = asked, now: int = now) -> None:
                    loop.call_soon_threadsafe(asked.set_result, _due(store.db, now))

                platform.writer.submit_job(due)
                if await asked == 0 and not platform.aggregator.noted():
                    break
                await asyncio.sleep(0.1)
            catch_up = time.perf_counter() - ended
            print(f"  the aggregation's writer jobs took {during:.2f} s during the {elapsed:.2f} s of ingest "
                  f"({during / elapsed:.0%} of the writer's time)", flush=True)
        await platform.stop()
        return elapsed, catch_up

    return asyncio.run(run())


def _due(db: sqlite3.Connection, now_ms: int) -> int:
    return aggregates.dirty_backlog(db, now_ms)[0]


def _floor(path: Path, devices: int, frames_per_device: int, batch_rows: int) -> float:
    """Plain sqlite3 into the same schema, same row shape and transaction size."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-65536")
    migrate(db)
    base = 1767196800000
    rows = [
        (d * POINTS_PER_FRAME + k + 1, base + n * 60000, float((d * 7 + n * 3 + k) % 500) + 0.125, "N")
        for d in range(devices) for n in range(frames_per_device) for k in range(POINTS_PER_FRAME)
    ]
    start = time.perf_counter()
    for i in range(0, len(rows), batch_rows):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT OR IGNORE INTO readings_rtd (point_id, ts, value, flag) VALUES (?, ?, ?, ?)",
            rows[i : i + batch_rows],
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def _one_run(tmp: Path, name: str, settings: Settings, devices: int, frames_per_device: int,
             rules: bool, aggregation: bool = True) -> float | None:
    """Seconds end to end for a fresh data directory; None if not every point was stored."""
    total = devices * frames_per_device * POINTS_PER_FRAME
    bench_settings = load_settings(
        None, data_dir=tmp / name, hj212_host="127.0.0.1", hj212_port=0,
        batch_max_rows=settings.batch_max_rows, timezone=settings.timezone, rules_enabled=int(rules),
        aggregation_enabled=int(aggregation), aggregate_every_s=settings.aggregate_every_s,
        max_connections_per_peer=0,  # every device of the benchmark connects from 127.0.0.1
    )
    _register(bench_settings, devices)
    print(f"end to end, rules {'on (every preset)' if rules else 'off'}, aggregation {'on' if aggregation else 'off'}: "
          f"{devices} connections, {frames_per_device} frames each, {POINTS_PER_FRAME} points a frame, "
          f"{total} points ...", flush=True)
    e2e, catch_up = _end_to_end(bench_settings, devices, frames_per_device)
    store = SqliteStore(bench_settings.db_path, Catalogue())
    stored = store.counters().get("readings_stored", 0)
    alarms = store.db.execute("SELECT COUNT(*) FROM alarms").fetchone()[0]
    periods = dict(store.db.execute("SELECT period, COUNT(*) FROM aggregates GROUP BY period").fetchall())
    store.close()
    if stored != total:
        print(f"error: {stored} readings stored, {total} sent")
        return None
    print(f"  {e2e:.2f} s, {total / e2e:.0f} points/s, {alarms} alarms raised", flush=True)
    if catch_up is not None:
        print(f"  aggregation caught up {catch_up:.2f} s after the last answer: "
              + ", ".join(f"{periods.get(p.value, 0)} {p.value}s" for p in Period), flush=True)
    return e2e


def run_ingest_bench(settings: Settings, *, points: int, devices: int, compare_rules: bool = False,
                     compare_aggregation: bool = False, pairs: int = 1) -> int:
    frames_per_device = max(1, points // (devices * POINTS_PER_FRAME))
    total = devices * frames_per_device * POINTS_PER_FRAME
    rules, aggregation = bool(settings.rules_enabled), bool(settings.aggregation_enabled)
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-") as tmp:
        ratios: list[float] = []
        e2e: float | None = None
        for pair in range(pairs if compare_aggregation else 0):
            # off, then on: a later run never gains from a warmer machine; pairs one after another
            # say how much a busy machine moves the figure
            unaggregated = _one_run(Path(tmp), f"aggregation-off-{pair}", settings, devices, frames_per_device,
                                    rules=rules, aggregation=False)
            e2e = _one_run(Path(tmp), f"aggregation-on-{pair}", settings, devices, frames_per_device, rules=rules,
                           aggregation=True)
            if unaggregated is None or e2e is None:
                return 1
            ratios.append(unaggregated / e2e)
            print(f"aggregation_on_points_per_s={total / e2e:.0f} aggregation_off_points_per_s="
                  f"{total / unaggregated:.0f} aggregation_ratio={unaggregated / e2e:.2f}", flush=True)
        if e2e is None:
            e2e = _one_run(Path(tmp), "rules", settings, devices, frames_per_device, rules=rules,
                           aggregation=aggregation)
            if e2e is None:
                return 1
        rule_free = None
        if compare_rules:
            rule_free = _one_run(Path(tmp), "rule-free", settings, devices, frames_per_device, rules=False,
                                 aggregation=aggregation)
            if rule_free is None:
                return 1
        print(f"floor: the same {total} rows with plain sqlite3 executemany ...", flush=True)
        floor = _floor(Path(tmp) / "floor.db", devices, frames_per_device, settings.batch_max_rows)
    points_per_s = total / e2e
    floor_per_s = total / floor
    print(f"end to end {e2e:.2f} s, floor {floor:.2f} s, cores {os.cpu_count()}")
    if rule_free is not None:
        print(f"rules_points_per_s={points_per_s:.0f} rule_free_points_per_s={total / rule_free:.0f} "
              f"rules_ratio={rule_free / e2e:.2f}")
    if ratios:
        print(f"aggregation_ratio_median={statistics.median(ratios):.2f} pairs={len(ratios)} "
              f"(each: {' '.join(f'{r:.2f}' for r in ratios)})")
    print(f"points_per_s={points_per_s:.0f} floor_per_s={floor_per_s:.0f} "
          f"ratio={points_per_s / floor_per_s:.2f}")
    return 0


# ------------------------------------------------------------------------------ idle memory


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _idle_server(data_dir: str, port_q: mp.Queue, stop_q: mp.Queue) -> None:  # type: ignore[type-arg]
    _raise_fd_limit()
    settings = load_settings(None, data_dir=Path(data_dir), hj212_host="127.0.0.1", hj212_port=0,
                             idle_timeout_s=3600.0, max_connections_per_peer=0)  # all from 127.0.0.1

    async def run() -> None:
        platform = Platform(settings)
        await platform.start()
        port_q.put(platform.hj212_port)
        loop = asyncio.get_running_loop()
        while True:
            msg = await loop.run_in_executor(None, stop_q.get)
            if msg == "count":
                assert platform.hj212 is not None
                port_q.put(len(platform.hj212.connections))
            else:
                break
        await platform.stop()

    asyncio.run(run())


def run_idle_bench(connections: int) -> int:
    _raise_fd_limit()
    ctx = mp.get_context("spawn")
    port_q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    stop_q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(prefix="forewarn-idle-") as tmp:
        proc = ctx.Process(target=_idle_server, args=(tmp, port_q, stop_q))
        proc.start()
        port = port_q.get()
        assert proc.pid is not None
        time.sleep(0.5)
        before = _rss_kb(proc.pid)

        async def hold() -> tuple[int, int]:
            writers = []
            for _ in range(connections):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writers.append(writer)
            await asyncio.sleep(1.0)
            stop_q.put("count")
            held = await asyncio.get_running_loop().run_in_executor(None, port_q.get)
            assert proc.pid is not None
            after = _rss_kb(proc.pid)
            for w in writers:
                w.close()
            return held, after

        held, after = asyncio.run(hold())
        stop_q.put("stop")
        proc.join(30)
    per_conn = (after - before) * 1024 / max(1, held)
    print(f"server RSS {before} KiB idle, {after} KiB with {held} connections")
    print(f"connections={held} bytes_per_idle_connection={per_conn:.0f}")
    return 0 if held == connections else 1
