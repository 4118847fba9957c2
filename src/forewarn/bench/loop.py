"""``forewarn bench loop``: how late the event loop that answers devices runs while people work.

One event loop serves every HJ 212 connection and every HTTP request, so anything slow that a
page or an edit does on it, every device waits for. This benchmark makes that visible:

- a fresh data directory with a city's worth of registry (``--devices``, default 10,000): the
  seed fleet's 72 devices (gas stations, factories with electricity meters, construction sites,
  kitchens) copied over and over, each copy its own enterprise and sites, with their points, so
  the rule presets have the same work per device as in the demo;
- the platform (rules on, HTTP on) in this process, with a probe task that sleeps 5 ms again
  and again and records how late each wake-up is: the lag any device's answer would suffer;
- in a second process, one device sending HJ 212 data uploads (A bit set) one after another
  and timing each 9014;
- in a third process, a dashboard user opening every read endpoint of :data:`READS` in turn
  (with the dashboard's live stream open meanwhile) and a city administrator editing the
  registry in a loop (PATCH a site's name, create a device), each request timed;
- a city's state behind the pages: 90 % of the devices heard lately, 300 unresolved alarms and
  2,000 closed ones (as ``forewarn bench overview`` writes them).

It prints the loop's lag (p50, p99, max), the device's answer times, and each endpoint's
median time and status (an endpoint answering 404 or 405 is listed as absent: not built yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.bench.overview import fill_activity_and_alarms
from forewarn.catalogue import Catalogue
from forewarn.sim.fleet import SimDevice, load_fleet
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.sqlite import SqliteStore

__all__ = ["READS", "run_loop_bench"]

#: Every read a dashboard user's pages make, in one place: add a page's endpoint here when it is
#: built. ``{site}``, ``{device}``, ``{point}``, ``{region}`` and ``{alarm}`` are filled from the
#: fleet; ``{from}``/``{to}`` are the last hour in epoch ms. Absent endpoints are reported, not
#: failed, so the list may run ahead of the code.
READS: tuple[str, ...] = (
    "/",
    "/api/v1/dashboard/overview",
    "/api/v1/sites/{site}/detail",
    "/api/v1/playback?site={site}&from={from}&to={to}",
    "/api/v1/alarms",
    "/api/v1/alarms?open=true",
    "/api/v1/alarms/{alarm}",
    "/api/v1/silences",
    "/api/v1/regions",
    "/api/v1/enterprises",
    "/api/v1/sites",
    "/api/v1/sites/{site}",
    "/api/v1/devices",
    "/api/v1/devices/{device}",
    "/api/v1/points",
    "/api/v1/points?device_id={device}",
    "/api/v1/sites/{site}/latest",
    "/api/v1/regions/{region}/latest",
    "/api/v1/points/{point}/series?from={from}&to={to}",
    "/api/v1/sites/{site}/lifecycle",
    "/api/v1/registry/export",
    "/api/v1/regions/outlines",
    "/api/v1/quarantine",
    "/api/v1/health",
    "/api/v1/audit",
    "/api/v1/users",
    "/metrics",
)

TICK_S = 0.005
PASSWORD = "bench-loop-password"
_TZ = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------------------------- the fleet

def _copy_mn(mn: str, copy: int) -> str:
    """The seed MN with its copy number in its last digits (24 characters, like the seed's)."""
    return f"{mn[:14]}{copy:04d}{mn[-6:]}"


def _fleet(devices: int) -> tuple[list[DeviceRow], list[PointRow], list[SimDevice]]:
    seed = load_fleet()
    rows: list[DeviceRow] = []
    points: list[PointRow] = []
    for i in range(devices):
        copy, d = divmod(i, len(seed))
        s = seed[d]
        mn = _copy_mn(s.mn, copy)
        suffix = "" if copy == 0 else f"（{copy}）"
        rows.append(DeviceRow(
            region_code=s.region_code, region_name=s.region_name, parent_region_code=s.parent_region_code,
            enterprise=s.enterprise + suffix, site=s.site + suffix, site_type=s.site_type, mn=mn,
            longitude=s.longitude, latitude=s.latitude, password=s.password, protocol=s.protocol,
            interval_s=s.interval_s, device_kind=s.kind,
        ))
        points += [PointRow(mn, p.code, p.field, p.name, p.quantity, p.unit, p.lower, p.upper, p.role)
                   for p in s.points]
    return rows, points, seed


@dataclass
class Target:
    """What the clients need: where to connect, who they are, and ids to fill :data:`READS` with."""

    hj212_port: int = 0
    http_port: int = 0
    token: str = ""
    mn: str = ""
    password: str = ""
    code: str = ""
    sub_field: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    #: a site the administrator renames, and the site new devices are created at
    edit_site: int = 0
    edit_site_name: str = ""


def _setup(data_dir: Path, devices: int) -> Target:
    from forewarn.access.users import create_user, issue_api_token

    rows, points, seed = _fleet(devices)
    with SqliteStore(data_dir / "forewarn.db", Catalogue()) as store:
        store.apply_registry(rows, points)
        create_user(store.db, "bench-city", PASSWORD, "city_admin", actor="bench", origin="bench")
        token = issue_api_token(store.db, "bench-city", actor="bench", origin="bench").token
        # the device that sends: the first gas station's first tank level
        dev = seed[0]
        p = dev.points[0]
        db = store.db
        device_id, site_id, region = db.execute(
            "SELECT d.id, s.id, s.region_code FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.mn = ?",
            (dev.mn,)).fetchone()
        point_id = db.execute("SELECT id FROM points WHERE device_id = ? AND code = ? AND field = ?",
                              (device_id, p.code, p.field)).fetchone()[0]
        # the site that is edited: one in the middle of the registry, not the sending device's
        edit_site, edit_name = db.execute(
            "SELECT id, name FROM sites ORDER BY id LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM sites)").fetchone()
        # a city's state: 90 % of devices heard lately, 300 unresolved alarms and 2,000 closed on the desk
        fill_activity_and_alarms(db, random.Random(8), int(time.time() * 1000))
        alarm = db.execute("SELECT MIN(id) FROM alarms WHERE state != 'closed'").fetchone()[0]
    return Target(mn=dev.mn, password=dev.password, code=p.code, sub_field=p.field, token=token,
                  ids={"site": str(site_id), "device": str(device_id), "point": str(point_id),
                       "region": str(region), "alarm": str(alarm)},
                  edit_site=int(edit_site), edit_site_name=str(edit_name))


# ---------------------------------------------------------------------------------- the clients

def _packet(target: Target, ts_ms: int, value: float) -> bytes:
    from forewarn.protocols.hj212.codec import wrap

    dt = datetime.fromtimestamp(ts_ms / 1000, _TZ).strftime("%Y%m%d%H%M%S")
    cp = f"DataTime={dt};{target.code}-{target.sub_field}={value:.2f},{target.code}-Flag=N"
    return wrap(f"QN={dt}000;ST=22;CN=2011;PW={target.password};MN={target.mn};Flag=5;CP=&&{cp}&&")


def _device(target: Target, duration_s: float, out: Any) -> None:
    """Runs in its own process: one packet at a time, each answer timed (ms)."""

    async def run() -> list[float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", target.hj212_port)
        times: list[float] = []
        # one reading a second of data time, starting far enough back that it never runs ahead
        start = int(time.time() * 1000) - int(duration_s * 20) * 1000
        end = time.perf_counter() + duration_s
        n = 0
        while time.perf_counter() < end:
            packet = _packet(target, start + n * 1000, 40.0 + (n % 20))
            t0 = time.perf_counter()
            writer.write(packet)
            buffer = b""
            while b"CN=9014" not in buffer:
                chunk = await reader.read(4096)
                if not chunk:
                    raise ConnectionError("the platform closed the device's connection")
                buffer += chunk
            times.append((time.perf_counter() - t0) * 1000)
            n += 1
            await asyncio.sleep(0.02)
        writer.close()
        return times

    out.put(asyncio.run(run()))


def _fill(path: str, target: Target) -> str:
    now = int(time.time() * 1000)
    return path.format(**target.ids, **{"from": str(now - 3_600_000), "to": str(now)})


def _users(target: Target, duration_s: float, out: Any) -> None:
    """Runs in its own process: a reader opening every page, an administrator editing."""
    import httpx

    async def run() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {target.token}"}
        reads: dict[str, list[float]] = {path: [] for path in READS}
        statuses: dict[str, int] = {}
        edits: dict[str, list[float]] = {"PATCH site": [], "POST device": []}
        failures: list[str] = []
        events: dict[str, int] = {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{target.http_port}", headers=headers,
                                     timeout=60) as client:
            present = []
            for path in READS:  # which exist today (and warm-up)
                answer = await client.get(_fill(path, target))
                statuses[path] = answer.status_code
                if answer.status_code not in (404, 405):
                    present.append(path)
            end = time.perf_counter() + duration_s

            async def reader() -> None:
                while time.perf_counter() < end:
                    for path in present:
                        t0 = time.perf_counter()
                        answer = await client.get(_fill(path, target))
                        reads[path].append((time.perf_counter() - t0) * 1000)
                        statuses[path] = answer.status_code

            async def editor() -> None:
                n = 0
                while time.perf_counter() < end:
                    name = f"{target.edit_site_name}{'（改）' if n % 2 == 0 else ''}"
                    t0 = time.perf_counter()
                    answer = await client.patch(f"/api/v1/sites/{target.edit_site}", json={"name": name})
                    edits["PATCH site"].append((time.perf_counter() - t0) * 1000)
                    if answer.status_code != 200:
                        failures.append(f"PATCH site: {answer.status_code} {answer.text[:200]}")
                    t0 = time.perf_counter()
                    answer = await client.post("/api/v1/devices", json={
                        "site_id": target.edit_site, "mn": f"LOOPBENCH{int(time.time() * 1e6) % 10**15:015d}",
                        "password": "123456"})
                    edits["POST device"].append((time.perf_counter() - t0) * 1000)
                    if answer.status_code != 201:
                        failures.append(f"POST device: {answer.status_code} {answer.text[:200]}")
                    n += 1
                    await asyncio.sleep(0.2)

            async def watch() -> None:
                async with client.stream("GET", "/api/v1/live/sse") as answer:
                    async for line in answer.aiter_lines():
                        if line.startswith("event: "):
                            events[line[7:]] = events.get(line[7:], 0) + 1

            async def watcher() -> None:  # the dashboard's one live stream per tab, until the end
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(watch(), timeout=max(0.0, end - time.perf_counter()))

            await asyncio.gather(reader(), editor(), watcher())
        return {"reads": reads, "statuses": statuses, "edits": edits, "failures": failures, "events": events}

    out.put(asyncio.run(run()))


# ---------------------------------------------------------------------------------- the platform

def _quantile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _line(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return (f"{name}: n={len(values)}, p50 {_quantile(values, 0.5):.1f} ms, p99 {_quantile(values, 0.99):.1f} ms, "
            f"max {max(values):.1f} ms")


async def _measure(data_dir: Path, target: Target, duration_s: float) -> tuple[list[float], list[float],
                                                                               dict[str, Any]]:
    from forewarn.app import Platform
    from forewarn.config import load_settings

    settings = load_settings(None, data_dir=data_dir, hj212_host="127.0.0.1", hj212_port=0, http_host="127.0.0.1",
                             http_port=0)
    platform = Platform(settings, http=True)
    await platform.start()
    ctx = mp.get_context("spawn")
    device_out: Any = ctx.Queue()
    users_out: Any = ctx.Queue()
    lags: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:  # how late each 5 ms wake-up is: what a device's answer waits for
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(TICK_S)
            lags.append(max(0.0, (loop.time() - t0 - TICK_S) * 1000))

    try:
        target.hj212_port, target.http_port = platform.hj212_port, platform.http_port
        procs = [ctx.Process(target=_device, args=(target, duration_s, device_out)),
                 ctx.Process(target=_users, args=(target, duration_s + 2.0, users_out))]
        for proc in procs:
            proc.start()
        await asyncio.sleep(3.0)  # the clients start (a spawned interpreter) and probe the endpoints
        task = asyncio.create_task(probe())
        loop = asyncio.get_running_loop()
        answers: list[float] = await loop.run_in_executor(None, device_out.get)
        stop.set()
        await task
        users: dict[str, Any] = await loop.run_in_executor(None, users_out.get)
        for proc in procs:
            await loop.run_in_executor(None, proc.join)
    finally:
        await platform.stop()
    return lags, answers, users


def run_loop_bench(*, devices: int = 10_000, duration_s: float = 30.0) -> int:
    """Print the loop's lag, the device's answer times and each endpoint's; 1 when p99 lag >= 20 ms."""
    import os
    import platform as host

    with tempfile.TemporaryDirectory(prefix="forewarn-bench-loop-") as tmp:
        data_dir = Path(tmp)
        t0 = time.perf_counter()
        target = _setup(data_dir, devices)
        with SqliteStore(data_dir / "forewarn.db", Catalogue(), create=False) as store:
            sites, points = (store.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("sites", "points"))
        print(f"setup: {devices:,} devices at {sites:,} sites with {points:,} points registered in "
              f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, Python {host.python_version()}")
        load_before = os.getloadavg()[0]
        lags, answers, users = asyncio.run(_measure(data_dir, target, duration_s))
        # the machine's own load: on 2 shared cores the figures vary by 2x with it
        print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(_line(f"event loop lag (a {TICK_S * 1000:.0f} ms probe)", lags))
    print(_line("device 9014 answer", answers))
    for name, times in users["edits"].items():
        print(_line(f"edit {name}", times))
    print("reads (median, p99, status):")
    for path in READS:
        status = users["statuses"][path]
        times = users["reads"][path]
        if status in (404, 405):
            print(f"  {path}: absent ({status})")
        else:
            print(f"  {path}: n={len(times)}, median {statistics.median(times) if times else math.nan:.1f} ms, "
                  f"p99 {_quantile(times, 0.99):.1f} ms, {status}")
    print("live stream events received:", ", ".join(f"{k} {v}" for k, v in sorted(users["events"].items())) or "none")
    for failure in users["failures"][:5]:
        print(f"edit failed: {failure}")
    p99 = _quantile(lags, 0.99)
    print(f"loop_lag_p50_ms={_quantile(lags, 0.5):.1f} loop_lag_p99_ms={p99:.1f} loop_lag_max_ms={max(lags):.1f} "
          f"answer_p99_ms={_quantile(answers, 0.99):.1f}")
    return 0 if p99 < 20.0 and not users["failures"] else 1
