"""``forewarn bench stats``: a month's figures for the demo city with 10,000 devices.

A fresh data directory; Hechi's regions and 10,000 devices on 8,334 sites spread over its 11
county-level divisions, registered through the ordinary registry import (registered, as the
benchmark's state, on 2026-09-01). Each device has 4 real-time points. What the figures read is
**synthesised** directly into the store, as the aggregator and the day refresh would have left
it for October 2026: each point's 31 day and 1 month aggregates (about 1,440 values a day,
some missing, invalid or over the limit), each device's 31 kept online days, each site's 31
kept facility days, a last real-time reading per point near the month's end (the online
count at the month's end seeks it), and 3,000 alarms raised in the month.

Then :func:`forewarn.stats.figures.figures` for October on a read-only connection, as the
city administrator: by region (the 11 districts), by enterprise, by site, the two rankings,
and by region with one row per day (31 rows each). Each is the median and 95th percentile of
``--runs`` runs after one warm-up.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from forewarn.access.scope import Scope
from forewarn.cli.common import open_store
from forewarn.cli.registry import import_files
from forewarn.config import load_settings
from forewarn.sim import fleet_regions_file
from forewarn.stats.figures import figures, figures_by, ranking_districts, ranking_enterprises

__all__ = ["run_stats_bench"]

_DISTRICTS = ["451202", "451203", "451221", "451222", "451223", "451224", "451225", "451226", "451227", "451228",
              "451229"]
_TYPES = ["lpg_station", "factory", "construction_site", "restaurant"]
_DAY = 86_400_000


def _sheet(path: Path, devices: int) -> int:
    with fleet_regions_file().open(encoding="utf-8", newline="") as f:
        names = {row["region_code"]: row["region_name"] for row in csv.DictReader(f)}
    written = site = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type", "longitude",
                    "latitude", "mn", "password"])
        while written < devices:
            code = _DISTRICTS[site % len(_DISTRICTS)]
            for d in range(2 if site % 5 == 0 else 1):
                if written < devices:
                    w.writerow([code, names[code], "451200", f"企业{site // 4:05d}", f"站点{site:05d}",
                                _TYPES[site % 4], f"{108 + site % 100 / 100:.2f}", f"{24 + site % 77 / 100:.2f}",
                                f"{code}STAT{site:08d}{d:06d}", ""])
                    written += 1
            site += 1
    return site


def _fill(db: sqlite3.Connection, rng: random.Random, start: int, days: list[int], now: int) -> tuple[int, int]:
    """The month as the aggregator and the day refresh leave it (synthesised: a benchmark's state)."""
    db.execute("BEGIN")
    registered = start - 30 * _DAY
    db.execute("UPDATE devices SET registered_ms = ?", (registered,))
    db.execute("UPDATE site_status_changes SET effective_ms = ?, at_ms = ?", (registered, registered))
    devices = [(int(i), int(s)) for i, s in db.execute("SELECT id, site_id FROM devices")]
    points: list[tuple[int, int]] = []
    rows = []
    for device_id, _ in devices:
        for code in ("a34001", "a34002", "a34004", "a01001"):
            rows.append((device_id, code, "Rtd", code, now))
    db.executemany("INSERT INTO points (device_id, code, field, name, created_ms) VALUES (?, ?, ?, ?, ?)", rows)
    points = [(int(p), int(d)) for p, d in db.execute("SELECT id, device_id FROM points")]
    agg: list[tuple[object, ...]] = []
    for pid, _ in points:
        totals = [0, 0, 0, 0]
        highest = 0.0
        for day in days:
            received = 1440 - (rng.randint(0, 200) if rng.random() < 0.2 else 0)
            valid = received - (rng.randint(0, 60) if rng.random() < 0.1 else 0)
            over = rng.randint(1, 30) if rng.random() < 0.02 else 0
            high = 0.8 * (1 + rng.random()) if over else 0.5
            agg.append((pid, "day", day, 0.4, 0.1, high, 0.4 * valid, received, valid, over, over * 60_000, 24, 24, 1,
                        "N", 0.8, now))
            totals = [totals[0] + received, totals[1] + valid, totals[2] + over, totals[3] + over * 60_000]
            highest = max(highest, high)
        agg.append((pid, "month", start, 0.4, 0.1, highest, 0.4 * totals[1], *totals, 31, 31, 1, "N", 0.8, now))
    db.executemany("INSERT INTO aggregates (point_id, period, start_ms, avg, min, max, cou, n_received, n_valid, "
                   "n_over, over_ms, parts, parts_valid, valid, flag, upper_limit, computed_ms) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", agg)
    db.executemany("INSERT INTO readings_rtd (point_id, ts, value, flag) VALUES (?, ?, 0.4, 'N')",
                   [(pid, days[-1] + _DAY - rng.randint(1, 600) * 1000) for pid, _ in points])
    db.executemany("INSERT INTO device_online_days (device_id, day_ms, online_ms, computed_ms) VALUES (?, ?, ?, ?)",
                   [(d, day, _DAY - (rng.randint(0, 7_200_000) if rng.random() < 0.2 else 0), now)
                    for d, _ in devices for day in days])
    sites = [int(s) for (s,) in db.execute("SELECT id FROM sites WHERE site_type IN ('factory', 'restaurant')")]
    db.executemany("INSERT INTO facility_days (site_id, day_ms, production_ms, treatment_with_ms, fan_ms, "
                   "purifier_with_ms, computed_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(s, day, 36_000_000, 36_000_000 - rng.randint(0, 3_600_000), 14_400_000, 14_000_000, now)
                    for s in sites for day in days])
    db.executemany("INSERT INTO device_activity (device_id, first_ms, last_ms, packets) VALUES (?, ?, ?, 1)",
                   [(d, registered, now - 30_000) for d, _ in devices])
    alarms = []
    site_ids = sorted({s for _, s in devices})
    for n in range(3000):
        at = start + rng.randint(0, len(days) * _DAY - 1)
        acked = at + rng.randint(60, 3600) * 1000 if rng.random() < 0.9 else None
        closed = acked + rng.randint(600, 86_400) * 1000 if acked is not None and rng.random() < 0.8 else None
        state = "closed" if closed is not None else "acknowledged" if acked else "firing"
        alarms.append(("dust.tsp", f"bench/{n}", 1, state, "cleared", 1, rng.choice(site_ids), "", "", "", "",
                       at, at, at, at, acked, closed, int(closed is None and rng.random() < 0.3)))
    db.executemany("INSERT INTO alarms (rule_id, rule_version, subject, level, state, condition, live, site_id, "
                   "title_zh, title_en, explanation_zh, explanation_en, first_ts, last_ts, created_ms, updated_ms, "
                   "acked_ms, closed_ms, overdue) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   alarms)
    db.execute("COMMIT")
    return len(points), len(agg)


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    """Median and p95 wall time, and median CPU time (ms): on a shared machine the wall time
    also counts the waits for a core, the CPU time only this work."""
    out = fn()  # warm-up
    took, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        took.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    took.sort()
    return statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.95))], statistics.median(cpu), out


def run_stats_bench(*, devices: int = 10_000, runs: int = 10, keep: Path | None = None) -> int:
    rng = random.Random(9)
    folder = Path(tempfile.mkdtemp(prefix="forewarn-bench-stats-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        settings = load_settings(None, data_dir=folder / "data", rules_enabled=0)
        tz = settings.tz
        start = int(datetime(2026, 10, 1, tzinfo=tz).timestamp() * 1000)
        end = int(datetime(2026, 11, 1, tzinfo=tz).timestamp() * 1000)
        days = [int(datetime(2026, 10, d, tzinfo=tz).timestamp() * 1000) for d in range(1, 32)]
        now = end + 4 * _DAY
        if not settings.db_path.exists():
            t0 = time.perf_counter()
            sites = _sheet(folder / "devices.csv", devices)
            import_files(settings, [fleet_regions_file(), folder / "devices.csv"])
            with open_store(settings) as store:
                points, agg = _fill(store.db, rng, start, days, now)
            print(f"registered {sites} sites and {devices} devices; synthesised {points} points' {agg} aggregates, "
                  f"{devices * 31} online days, 3,000 alarms in {time.perf_counter() - t0:.1f} s ({folder})")
        db = sqlite3.connect(f"{settings.db_path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        scope = Scope.for_user("city_admin", None, None)
        common: dict[str, Any] = {"start_ms": start, "end_ms": end, "now_ms": now, "settings": settings}

        def month(by: str, region: str | None = "451200", period: str = "month") -> Callable[[], Any]:
            return lambda: figures(db, scope, by=by, region=region, period=period, **common)  # type: ignore[arg-type]

        def rankings() -> Any:
            rows = figures_by(db, scope, bys=("region", "enterprise"), region="451200", period="month", **common)
            return ranking_districts(rows["region"]), ranking_enterprises(rows["enterprise"])

        print(f"figures for 2026-10, the city 451200 ({runs} runs; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores):")
        for name, fn in (("by region (11 districts)", month("region")), ("by enterprise", month("enterprise")),
                         ("by site", month("site")), ("rankings (one pass: districts, enterprises)", rankings),
                         ("by region, one row per day", month("region", period="day"))):
            med, p95, cpu, out = _timed(fn, runs)
            count = len(out) if isinstance(out, list) else sum(len(x) for x in out)
            print(f"  {name:<36} median {med:7.1f} ms   p95 {p95:7.1f} ms   CPU {cpu:7.1f} ms   {count} rows")
        for first in figures(db, scope, by="region", region=None, period="month", **common)[:1]:
            print(f"  e.g. {first.entity.name}: effective rate {first.effective_rate}, online by time "
                  f"{first.online_time_rate}, {first.exceedances} exceedances")
        db.close()
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0
