"""The playback page in headless Chromium: a day of a 30-point site loaded, then played at 3600x.

    .venv/bin/python bench/playback_page.py [--seconds 10] [--runs 5]

The data set is ``forewarn bench playback``'s (30 points x 1,440 minutes, fan and purifier
switching). A real forewarn serves it; Debian's chromium (through Playwright, as the e2e tests
drive it) logs in and opens ``/playback?site=..&from=..&to=..``. Measured:

- **load**: from navigation to the page drawn (``#page[data-ready]``: the answer fetched and
  parsed, values, charts and timeline drawn), cold and warm;
- **playing at 3600x**: every animation frame's interval for ``--seconds`` (a requestAnimationFrame
  counter in the page, beside the player's own), frames per second, the interval's median, p99
  and max, and the frames dropped (an interval over 1.5 times the display's frame time).

A command, not a timed test: the figures go into docs/benchmarks.md with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from forewarn.access.users import create_user
from forewarn.app import Platform
from forewarn.bench.playback import MINUTE_MS, _setup
from forewarn.catalogue import Catalogue
from forewarn.config import load_settings
from forewarn.store.sqlite import SqliteStore

PASSWORD = "bench-password-1"

#: the dashboard's own navigation (the libraries stay loaded, as when a user opens playback from a page)
NAVIGATE_JS = "(p) => { history.pushState(null, '', p); dispatchEvent(new PopStateEvent('popstate')); }"
FRAMES_JS = """(seconds) => new Promise((resolve) => {
  const gaps = []; let last = 0; const end = performance.now() + seconds * 1000;
  function tick(now) { if (last) gaps.push(now - last); last = now;
    if (now < end) requestAnimationFrame(tick); else resolve(gaps); }
  requestAnimationFrame(tick);
})"""


def _serve(data_dir: Path, ready: dict[str, Any], stop: threading.Event) -> None:
    async def main() -> None:
        settings = load_settings(None, data_dir=data_dir, hj212_host="127.0.0.1", hj212_port=0,
                                 http_host="127.0.0.1", http_port=0, cookie_secure=0)
        platform = Platform(settings, http=True)
        await platform.start()
        ready["url"] = f"http://127.0.0.1:{platform.http_port}"
        try:
            while not stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            await platform.stop()

    asyncio.run(main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds played at 3600x (default 10)")
    parser.add_argument("--runs", type=int, default=5, help="page loads timed after the cold one (default 5)")
    args = parser.parse_args()
    chromium = os.environ.get("FOREWARN_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="forewarn-bench-playback-page-") as tmp:
        data = Path(tmp)
        end = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS
        site_id, written, start = _setup(data / "forewarn.db", end)

        with SqliteStore(data / "forewarn.db", Catalogue()) as store:
            create_user(store.db, "bench", PASSWORD, "city_admin", actor="bench", origin="bench")
        ready: dict[str, Any] = {}
        stop = threading.Event()
        server = threading.Thread(target=_serve, args=(data, ready, stop), daemon=True)
        server.start()
        while "url" not in ready:
            time.sleep(0.05)
        path = f"/playback?site={site_id}&from={start}&to={end}&t={start}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
                context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=ready["url"],
                                              timezone_id="Asia/Shanghai")
                context.request.post("/api/v1/auth/login", data={"name": "bench", "password": PASSWORD})
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                loads = []
                for _ in range(args.runs + 1):
                    page.goto("/")
                    page.wait_for_selector("#bar:not([hidden])")
                    t0 = time.perf_counter()
                    page.evaluate(NAVIGATE_JS, path)
                    page.wait_for_selector("#page[data-ready='1']", timeout=30_000)
                    loads.append((time.perf_counter() - t0) * 1000)
                idle: list[float] = page.evaluate(FRAMES_JS, 3.0)  # paused: the browser's own frame noise
                page.select_option("[data-test=speed]", "3600")
                t_before = int(page.get_attribute("#page", "data-t") or 0)
                page.click("[data-test=play]")
                gaps: list[float] = page.evaluate(FRAMES_JS, args.seconds)
                t_after = int(page.get_attribute("#page", "data-t") or 0)
                browser.close()
        finally:
            stop.set()
            server.join(30)
    frame = statistics.median(gaps)
    dropped = sum(1 for g in gaps if g > 1.5 * frame)
    ordered = sorted(gaps)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    idle_frame = statistics.median(idle)
    idle_dropped = sum(1 for g in idle if g > 1.5 * idle_frame)
    played_s = (t_after - t_before) / 1000
    print(f"data: {written:,} readings (30 points x 1,440 minutes), site {site_id}")
    print(f"page load to drawn: cold {loads[0]:.0f} ms; warm median {statistics.median(loads[1:]):.0f} ms, "
          f"max {max(loads[1:]):.0f} ms over {args.runs} loads")
    print(f"playing at 3600x for {args.seconds:g} s: {len(gaps)} frames ({len(gaps) / args.seconds:.1f} fps), "
          f"frame interval median {frame:.1f} ms, p99 {p99:.1f} ms, max {max(gaps):.1f} ms, "
          f"dropped (> 1.5 x median) {dropped}")
    print(f"paused, for comparison (3 s): {len(idle)} frames, max {max(idle):.1f} ms, dropped {idle_dropped}")
    print(f"data time played: {played_s / 3600:.2f} h in {args.seconds:g} s (3600x would be {args.seconds:g} h, "
          f"less while the player is paused at the window's end)")
    if errors:
        print("JavaScript errors: " + "; ".join(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
