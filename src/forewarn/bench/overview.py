"""``forewarn bench overview``: the overview with 10,000 sites in scope.

A fresh data directory; the demo's regions and 10,000 sites (one device each, some with two)
spread over Hechi's and Datong's county-level divisions, registered through the ordinary
registry import. Nine in ten devices were heard within the last minute (online), the rest long
ago or never; 300 sites have an unresolved alarm, 40 of them level 2, and 2,000 alarms are
closed. Then:

- :func:`forewarn.overview.queries.read_overview` on a reader connection, as the city
  administrator: no filter, and each filter (a region, a site type, a state);
- ``GET /api/v1/dashboard/overview`` through the HTTP API of a running platform (what the page
  waits for: the read, the JSON, the transfer), each filter too;
- with ``--browser``: the overview page in headless Chromium (Debian's package): from
  navigation to the map drawn, and each filter from the change to the map redrawn (the page
  narrows the markers it holds at once) and to the tiles counted (the server's answer).

Each is the median and 95th percentile of ``--runs`` runs after one warm-up.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from forewarn.access.scope import Scope
from forewarn.access.users import create_user, issue_api_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.cli.common import open_store
from forewarn.cli.regions import import_demo_outlines
from forewarn.cli.registry import import_files
from forewarn.config import Settings, load_settings
from forewarn.geo.outlines import demo_outline_files
from forewarn.overview.queries import OverviewFilter, read_overview
from forewarn.sim import fleet_regions_file

__all__ = ["fill_activity_and_alarms", "run_overview_bench"]

PASSWORD = "bench-overview-password"
#: (region code, longitude, latitude) around which the sites are spread
_CENTRES = [
    ("451202", 108.06, 24.69), ("451203", 108.64, 24.49), ("451221", 107.54, 24.98), ("451222", 107.17, 25.00),
    ("451223", 107.04, 24.55), ("451224", 107.37, 24.51), ("451225", 108.90, 24.78), ("451226", 108.26, 24.83),
    ("451227", 107.26, 24.14), ("451228", 108.11, 23.93), ("451229", 108.00, 23.74),
    ("140213", 113.30, 40.08), ("140214", 113.15, 40.01), ("140212", 113.14, 40.26), ("140215", 113.61, 40.04),
    ("140221", 113.75, 40.36), ("140222", 114.09, 40.42), ("140223", 114.28, 39.76), ("140224", 114.23, 39.44),
    ("140225", 113.70, 39.69), ("140226", 112.70, 40.01),
]
_TYPES = ["lpg_station", "gas_gate_station", "cng_lng_filling_station", "factory", "construction_site", "restaurant"]


def _sheet(path: Path, sites: int, rng: random.Random) -> int:
    with fleet_regions_file().open(encoding="utf-8", newline="") as f:
        names = {row["region_code"]: row["region_name"] for row in csv.DictReader(f)}
    header = ["region_code", "region_name", "enterprise", "site", "site_type", "longitude", "latitude", "mn",
              "password"]
    devices = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(header)
        for i in range(sites):
            code, lon, lat = _CENTRES[i % len(_CENTRES)]
            site_type = _TYPES[i % len(_TYPES)]
            position = (f"{lon + rng.uniform(-0.25, 0.25):.5f}", f"{lat + rng.uniform(-0.2, 0.2):.5f}")
            for d in range(2 if i % 5 == 0 else 1):
                w.writerow([code, names[code], f"企业{i // 4:05d}", f"站点{i:05d}", site_type, *position,
                            f"{code}BENCH{i:08d}{d:05d}", ""])
                devices += 1
    return devices


def fill_activity_and_alarms(db: sqlite3.Connection, rng: random.Random, now_ms: int) -> None:
    """Device activity, and alarms (unresolved and closed), written directly: a benchmark's state."""
    devices = [r[0] for r in db.execute("SELECT id FROM devices")]
    db.execute("BEGIN")
    db.executemany(
        "INSERT OR REPLACE INTO device_activity (device_id, first_ms, last_ms, packets) VALUES (?, ?, ?, 1)",
        [(d, now_ms - 86_400_000, now_ms - rng.randint(0, 50_000) if rng.random() < 0.9 else now_ms - 86_400_000)
         for d in devices if rng.random() < 0.97])
    db.execute("INSERT OR IGNORE INTO rule_versions (rule_id, version, hash, body, created_ms) VALUES "
               "('gas.lel', 1, 'bench', '{\"kind\": \"threshold\"}', ?)", (now_ms,))
    sites = [r for r in db.execute(
        "SELECT s.id, s.name, e.name, s.region_code, (SELECT mn FROM devices WHERE site_id = s.id LIMIT 1) "
        "FROM sites s JOIN enterprises e ON e.id = s.enterprise_id")]
    rows = []
    for n, (site_id, site, enterprise, region, mn) in enumerate(rng.sample(sites, min(2300, len(sites)))):
        state = "closed" if n >= 300 else rng.choice(["firing", "acknowledged", "dispatched"])
        level = 2 if n < 40 else 1
        at = now_ms - rng.randint(0, 3 * 86_400_000)
        rows.append(("gas.lel", 1, f"{mn}/GD1/{n}", level, state, "active", 1, mn, site_id, site, enterprise, region,
                     "可燃气体浓度报警", "Combustible gas alarm", "…", "…", at, at, at, at, level))
    db.executemany(
        "INSERT INTO alarms (rule_id, rule_version, subject, level, state, condition, live, mn, site_id, site, "
        "enterprise, region_code, title_zh, title_en, explanation_zh, explanation_en, first_ts, last_ts, created_ms, "
        "updated_ms, data_level) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm-up
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.95))]


def _line(what: str, med: float, p95: float, extra: str = "") -> None:
    print(f"  {what:<44} median {med:7.1f} ms   p95 {p95:7.1f} ms{extra}")


_FILTERS: list[tuple[str, dict[str, str]]] = [
    ("no filter", {}), ("region=451202", {"region": "451202"}), ("site_type=factory", {"site_type": "factory"}),
    ("state=alarm", {"state": "alarm"}),
]


def run_overview_bench(*, sites: int = 10_000, runs: int = 15, browser: bool = False, keep: Path | None = None) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the figures
    rng = random.Random(212)
    folder = Path(tempfile.mkdtemp(prefix="forewarn-bench-overview-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        settings = load_settings(None, data_dir=folder / "data", hj212_host="127.0.0.1", hj212_port=0,
                                 http_host="127.0.0.1", http_port=0, rules_enabled=0, cookie_secure=0)
        t0 = time.perf_counter()
        now = int(time.time() * 1000)
        if not settings.db_path.exists():  # --keep DIR: built once, measured as often as wanted
            devices = _sheet(folder / "sites.csv", sites, rng)
            import_files(settings, [fleet_regions_file(), folder / "sites.csv"])
            import_demo_outlines(settings, demo_outline_files())
            with open_store(settings) as store:
                fill_activity_and_alarms(store.db, rng, now)
                create_user(store.db, "bench", PASSWORD, "city_admin", actor="bench", origin="bench")
            print(f"registered {sites} sites, {devices} devices, 2,300 alarms in {time.perf_counter() - t0:.1f} s "
                  f"({folder})")
        with open_store(settings) as store:
            token = issue_api_token(store.db, "bench", actor="bench", origin="bench", days=1).token

        db = sqlite3.connect(f"{settings.db_path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        catalogue = Catalogue()
        scope = Scope.for_user("city_admin", None, None)
        print(f"read_overview (reader connection, {runs} runs):")
        for name, query in _FILTERS:
            flt = OverviewFilter(**query)
            answer = read_overview(db, scope, flt, now_ms=now, tz=settings.tz, offline_after_intervals=3.0,
                                   catalogue=catalogue)
            med, p95 = _timed(lambda flt=flt: read_overview(db, scope, flt, now_ms=now, tz=settings.tz,  # type: ignore[misc]
                                                            offline_after_intervals=3.0, catalogue=catalogue), runs)
            _line(name, med, p95, f"   {len(answer.sites)} sites")
        db.close()
        asyncio.run(_http(settings, token, runs, browser))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


async def _http(settings: Settings, token: str, runs: int, browser: bool) -> None:
    platform = Platform(settings, http=True)
    await platform.start()
    try:
        base = f"http://127.0.0.1:{platform.http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            print(f"GET /api/v1/dashboard/overview (HTTP, {runs} runs):")
            for name, query in _FILTERS:
                size = 0
                took = []
                for i in range(runs + 1):
                    t0 = time.perf_counter()
                    answer = await client.get("/api/v1/dashboard/overview", params=query)
                    answer.raise_for_status()
                    if i:
                        took.append((time.perf_counter() - t0) * 1000)
                    size = len(answer.content)
                took.sort()
                _line(name, statistics.median(took), took[int(len(took) * 0.95) - 1 if len(took) > 1 else 0],
                      f"   {size / 1e6:.2f} MB")
            outlines = await client.get("/api/v1/regions/outlines")
            again = await client.get("/api/v1/regions/outlines", headers={"If-None-Match": outlines.headers["etag"]})
            print(f"  outlines: {len(outlines.content) / 1e6:.2f} MB; again with If-None-Match: {again.status_code}")
        if browser:
            await asyncio.to_thread(_browser, base, runs)
    finally:
        await platform.stop()


def _browser(base: str, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("FOREWARN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("  no chromium: install Debian's chromium for --browser")
        return
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = b.new_context(viewport={"width": 1366, "height": 768}, base_url=base, locale="zh-CN")
        # waits are attribute selectors: Playwright's wait_for_function evaluates strings, which the CSP forbids
        context.request.post("/api/v1/auth/login", data={"name": "bench", "password": PASSWORD}).dispose()
        page = context.new_page()
        first = []
        for i in range(min(runs, 8) + 1):
            t0 = time.perf_counter()
            page.goto("/")
            page.wait_for_selector("#overview-map[data-drawn]:not([data-drawn='0'])", timeout=30000)
            if i:
                first.append((time.perf_counter() - t0) * 1000)
        first.sort()
        print(f"overview page in headless Chromium (1366x768, {len(first)} loads):")
        _line("first render (navigation to map drawn)", statistics.median(first), first[-1], "   (p95: slowest)")
        for name, select, value in (("filter region=451202", "region", "451202"),
                                    ("filter site_type=factory", "site_type", "factory"),
                                    ("filter state=alarm", "state", "alarm")):
            shown, counted = [], []
            for _ in range(5):
                for target in (value, ""):
                    t0 = time.perf_counter()
                    page.select_option(f"select[name={select}]", target)
                    page.wait_for_selector(f"#page[data-filtered='{select}={target}']", timeout=30000)
                    t1 = time.perf_counter()
                    page.wait_for_selector(f"#page[data-counted='{select}={target}']", timeout=30000)
                    if target:
                        shown.append((t1 - t0) * 1000)
                        counted.append((time.perf_counter() - t0) * 1000)
            shown.sort()
            counted.sort()
            _line(name + ": map redrawn", statistics.median(shown), shown[-1], "   (p95: slowest of 5)")
            _line(name + ": tiles counted", statistics.median(counted), counted[-1])
        b.close()


if __name__ == "__main__":
    import sys

    raise SystemExit(run_overview_bench(browser="--browser" in sys.argv))
