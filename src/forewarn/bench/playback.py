"""``forewarn bench playback``: one day of a site with 30 points at one-minute resolution,
loaded as one playback answer.

A fresh data directory; a restaurant with one oil-fume monitor registered through the ordinary
registry path, with 28 real-time points (a daily rhythm with noise and spikes) and its fan and
purifier running states (SB1-RS, SB2-RS: the composite rule's operands, switched a few times a
day), one reading a minute each for 24 hours: 43,200 readings. Rows are written with plain
``executemany`` (``bench ingest`` measures the ingest path); the day ends a minute ago, so the
device is online at its end.

Then ``GET /api/v1/playback?site=..&from=..&to=..`` of a running platform is timed, from the
request to the parsed answer (the reader thread's query, the answer's encoding, the transfer
and the client's JSON parse), cold (the first request) and warm (median, p95 of the rest),
with the event loop's lag meanwhile (what a device waiting for its 9014 would feel), and the
use case alone (:func:`forewarn.sites.playback.playback` on a connection) for where the time goes.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from forewarn.catalogue import Catalogue
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.sqlite import SqliteStore

__all__ = ["run_playback_bench"]

MN = "451202BENCHPLAYBACK00001"
MINUTE_MS = 60_000
DAY_MS = 86_400_000
STATUS_CODES = ("SB1", "SB2")


def _points(catalogue: Catalogue) -> list[tuple[str, str]]:
    rtd = [(code, "Rtd") for code in catalogue.factors if code not in STATUS_CODES][:28]
    return [*rtd, ("SB1", "RS"), ("SB2", "RS")]


def _setup(path: Path, end_ms: int) -> tuple[int, int, int]:
    """Register the site and write a day; return (site id, readings written, from ms)."""
    catalogue = Catalogue()
    store = SqliteStore(path, catalogue)
    start = end_ms - DAY_MS
    try:
        device = DeviceRow(region_code="451202", region_name="金城江区", parent_region_code="451200",
                           enterprise="基准测试餐饮", site="后厨", site_type="restaurant", mn=MN, password="",
                           interval_s=60, device_kind="fume_monitor")
        points = _points(catalogue)
        store.apply_registry([device], [PointRow(MN, code, field) for code, field in points])
        ids = dict(((code, field), id_) for id_, code, field in store.db.execute("SELECT id, code, field FROM points"))
        rnd = random.Random(7)
        rtd, status = [], []
        for n, key in enumerate(points):
            for i in range(1440):
                ts = start + i * MINUTE_MS
                if key[1] == "RS":  # the fan runs 08:00-22:00, the purifier stops twice while it runs
                    hour = (i / 60) % 24
                    on = 8 <= hour < 22 and not (key[0] == "SB2" and (12.0 <= hour < 12.5 or 19.0 <= hour < 19.2))
                    status.append((ids[key], ts, 1.0 if on else 0.0, "N"))
                else:
                    value = 10 + n + 5 * math.sin(2 * math.pi * i / 1440) + rnd.gauss(0, 0.5)
                    rtd.append((ids[key], ts, round(value * (4 if i % 397 == 0 else 1), 3), "N"))
        db = store.db
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO readings_rtd (point_id, ts, value, flag) VALUES (?, ?, ?, ?)", rtd)
        db.executemany("INSERT INTO readings_status (point_id, ts, value, flag) VALUES (?, ?, ?, ?)", status)
        db.execute("INSERT OR REPLACE INTO device_activity (device_id, first_ms, last_ms, packets) "
                   "SELECT id, ?, ?, 1440 FROM devices WHERE mn = ?", (start, end_ms - MINUTE_MS, MN))
        db.execute("COMMIT")
        site_id = int(db.execute("SELECT site_id FROM devices WHERE mn = ?", (MN,)).fetchone()[0])
        return site_id, len(rtd) + len(status), start
    finally:
        store.close()


def _client(url: str, params: dict[str, str], token: str, runs: int) -> tuple[list[float], int, int]:
    """(ms per request to its parsed answer, answer bytes, readings in it), as a browser would ask."""
    import httpx

    times = []
    size = readings = 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for _ in range(runs):
            t0 = time.perf_counter()
            answer = client.get(url, params=params)
            answer.raise_for_status()
            body = answer.json()
            times.append((time.perf_counter() - t0) * 1000.0)
            size = len(answer.content)
            readings = sum(len(s["ts"]) for s in body["series"])
    return times, size, readings


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def _over_http(data_dir: Path, site_id: int, from_ms: int, to_ms: int, runs: int
                     ) -> tuple[list[float], list[float], list[float], int, int, float]:
    """(request ms, loop lag ms, idle loop lag ms, answer bytes, readings in it, use case alone ms median)."""
    from forewarn.access.roles import Role
    from forewarn.access.scope import Scope
    from forewarn.access.users import create_user, issue_api_token
    from forewarn.app import Platform
    from forewarn.config import load_settings
    from forewarn.sites.playback import Window, playback
    from forewarn.sites.view import SiteView

    settings = load_settings(None, data_dir=data_dir, hj212_host="127.0.0.1", hj212_port=0, http_host="127.0.0.1",
                             http_port=0)
    with SqliteStore(settings.db_path, Catalogue()) as store:
        create_user(store.db, "bench", "bench-password-1", "city_admin", actor="bench", origin="bench")
        token = issue_api_token(store.db, "bench", actor="bench", origin="bench").token
    platform = Platform(settings, http=True)
    await platform.start()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(max(0.0, (time.perf_counter() - t0) * 1000.0 - 5.0))

    try:
        url = f"http://127.0.0.1:{platform.http_port}/api/v1/playback"
        params = {"site": str(site_id), "from": str(from_ms), "to": str(to_ms)}
        loop = asyncio.get_running_loop()
        # the client in a process of its own: its JSON parse must not hold this loop (nor its GIL)
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            await loop.run_in_executor(pool, _client, url, params, token, 0)  # the process started
            tick = asyncio.create_task(ticker())
            await asyncio.sleep(2.0)  # the loop's lag with no page asked, for comparison (a busy machine lags too)
            idle = list(lags)
            lags.clear()
            times, size, readings = await loop.run_in_executor(pool, _client, url, params, token, runs + 1)
            stop.set()  # before the pool's shutdown, which waits for its process on this loop
            await tick
        rules = platform._rules_in_force
        view = SiteView(settings.tz, settings.offline_after_intervals, Catalogue(), rules)
        window = Window(site_id, from_ms, to_ms, from_ms)
        assert platform.read_store is not None
        db = platform.read_store.db
        alone = []
        for _ in range(runs):
            t0 = time.perf_counter()
            playback(db, Scope(Role.CITY_ADMIN), window, to_ms, view)
            alone.append((time.perf_counter() - t0) * 1000.0)
    finally:
        await platform.stop()
    return times, lags, idle, size, readings, statistics.median(alone)


def run_playback_bench(*, runs: int = 10) -> int:
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-playback-") as tmp:
        end = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS
        t0 = time.perf_counter()
        site_id, written, start = _setup(Path(tmp) / "forewarn.db", end)
        print(f"setup: {written:,} readings (30 points x 1,440 minutes) written in {time.perf_counter() - t0:.1f} s")
        times, lags, idle, size, readings, alone = asyncio.run(_over_http(Path(tmp), site_id, start, end, runs))
    cold, warm = times[0], times[1:]
    print(f"GET /api/v1/playback (24 h, 30 points): {readings:,} readings, {size / 1e6:.2f} MB of JSON")
    print(f"cold (first request): {cold:.0f} ms; warm: {len(warm)} runs, median {statistics.median(warm):.0f} ms, "
          f"p95 {_p95(warm):.0f} ms (request to parsed answer)")
    print(f"the use case alone (reads and shapes, no encoding or transfer): median {alone:.0f} ms")
    print(f"event loop meanwhile (a 5 ms ticker): lag median {statistics.median(lags):.2f} ms, "
          f"p95 {_p95(lags):.2f} ms, max {max(lags):.1f} ms over {len(lags)} ticks")
    print(f"event loop with no request (2 s before): lag median {statistics.median(idle):.2f} ms, "
          f"p95 {_p95(idle):.2f} ms, max {max(idle):.1f} ms")
    print(f"playback_ms_cold={cold:.0f} playback_ms_median={statistics.median(warm):.0f} readings={readings}")
    return 0 if readings == 43_200 and max(times) < 1000 else 1
