"""``forewarn bench report``: a month's report for the demo city with 10,000 devices.

The state is ``forewarn bench stats``'s (``bench/stats.py``: Hechi's 11 districts, 10,000
devices on 8,334 sites, October 2026 as the aggregator and the day refresh leave it), built
once into a data directory (``--keep DIR`` keeps it for the next run). Then, for October and
the city 451200, as the city administrator:

- the report itself (``reports.build.build_report``: every section, both rankings), what the
  statistics page is answered as JSON;
- the report drawn as XLSX (openpyxl) and as the printable HTML page;
- ``GET /api/v1/reports/monthly?...`` through a real platform's HTTP API, the way the
  statistics page asks for it: the first ask (the figures' one pass on a reader thread), each
  of ``--runs`` times on a platform started afresh (nothing kept), then asks for JSON and XLSX
  while its figures are kept. The platforms run without the aggregator and the day keeper
  (``aggregation_enabled = 0``): on the synthesised state they would start by catching up
  40,000 points' readings and four days of online time, work a running platform did long
  before, which would compete with the first ask.

Each is the median and the slowest of ``--runs`` runs after one warm-up; the goals are the
issue's: a month's report in under 30 s, the statistics page's answer in under 1 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.access.users import create_user, get_user, issue_api_token
from forewarn.app import Platform
from forewarn.bench.stats import run_stats_bench
from forewarn.cli.common import open_store
from forewarn.config import load_settings
from forewarn.reports.build import ReportRequest, build_report
from forewarn.reports.period import parse_period
from forewarn.reports.render import render

__all__ = ["run_report_bench"]

_DAY = 86_400_000
_USER = "bench-report"


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    """Median and slowest wall time and the median CPU time of this process (all its threads):
    on a shared machine the wall time counts the others' work too."""
    out = fn()  # warm-up
    took, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        took.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(took), max(took), statistics.median(cpu), out


def _line(name: str, med: float, worst: float, cpu: float, what: str) -> None:
    print(f"  {name:<40} median {med:8.1f} ms   slowest {worst:8.1f} ms   CPU {cpu:8.1f} ms   {what}")


def run_report_bench(*, devices: int = 10_000, runs: int = 5, keep: Path | None = None) -> int:
    folder = Path(tempfile.mkdtemp(prefix="forewarn-bench-report-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        settings = load_settings(None, data_dir=folder / "data", rules_enabled=0, report_time="",
                                 hj212_host="127.0.0.1", hj212_port=0, http_host="127.0.0.1", http_port=0)
        if not settings.db_path.exists():
            run_stats_bench(devices=devices, runs=1, keep=folder)  # the state, and its own figures' timings
        tz = settings.tz
        now = int(datetime(2026, 11, 1, tzinfo=tz).timestamp() * 1000) + 4 * _DAY
        period = parse_period("monthly", "2026-10", tz)
        request = ReportRequest(period, region="451200")
        db = sqlite3.connect(f"{settings.db_path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        scope = Scope(Role.CITY_ADMIN)

        def report() -> Any:
            return build_report(db, scope, request, now_ms=now, settings=settings)

        load = os.getloadavg()[0]
        print(f"the monthly report of 2026-10 for the city 451200 ({runs} runs; load average {load:.1f} on "
              f"{os.cpu_count()} cores):")
        med, worst, cpu, made = _timed(report, runs)
        rows = sum(len(s.rows) for s in made.sections)
        _line("report built (the page's JSON)", med, worst, cpu, f"{len(made.sections)} sections, {rows} rows, "
              f"{len(msgspec.json.encode(made)) / 1000:.0f} kB JSON")
        med, worst, cpu, xlsx = _timed(lambda: render(made, "xlsx"), runs)
        _line("drawn as XLSX", med, worst, cpu, f"{len(xlsx) / 1000:.0f} kB")
        med, worst, cpu, html = _timed(lambda: render(made, "html"), runs)
        _line("drawn as HTML", med, worst, cpu, f"{len(html) / 1000:.0f} kB")
        db.close()
        asyncio.run(_over_http(dataclasses.replace(settings, aggregation_enabled=0), now, runs))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


async def _over_http(settings: Any, now: int, runs: int) -> None:
    with open_store(settings) as store:
        if get_user(store.db, _USER) is None:
            create_user(store.db, _USER, "bench-report-password-1", "city_admin", actor="bench", origin="bench")
        token = issue_api_token(store.db, _USER, actor="bench", origin="bench").token
    params = {"region": "451200", "period": "2026-10"}
    first: list[float] = []
    first_cpu: list[float] = []
    size = 0
    for run in range(runs):
        platform = Platform(settings, http=True, clock=lambda: now / 1000)
        await platform.start()
        try:
            await asyncio.sleep(2)  # the platform's own start-up work (registry, live feed) done first
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}", timeout=120,
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                # the first ask reads the figures (nothing is kept in a platform just started)
                t0, c0 = time.perf_counter(), time.process_time()
                answer = await client.get("/api/v1/reports/monthly", params={**params, "format": "json"})
                answer.raise_for_status()
                first.append((time.perf_counter() - t0) * 1000)
                first_cpu.append((time.process_time() - c0) * 1000)
                size = len(answer.content)
                if run == runs - 1:
                    _line("GET .../reports/monthly, first ask", statistics.median(first), max(first),
                          statistics.median(first_cpu), f"{size / 1000:.0f} kB JSON (CPU: server and client, "
                          f"one process; {runs} platforms)")
                    # a closed period's figures are now kept (reports/cache.py), so the asks after
                    # it (the language switched, the XLSX downloaded) only assemble and render
                    await _kept(client, params, runs)
        finally:
            await platform.stop()


async def _kept(client: httpx.AsyncClient, params: dict[str, str], runs: int) -> None:
    for fmt in ("json", "xlsx"):
        took, cpu = [], []
        size = 0
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            answer = await client.get("/api/v1/reports/monthly", params={**params, "format": fmt})
            answer.raise_for_status()
            size = len(answer.content)
            took.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        _line(f"GET .../reports/monthly format={fmt}, kept", statistics.median(took), max(took),
              statistics.median(cpu), f"{size / 1000:.0f} kB")
