"""The event loop while an alarm's cameras are grabbed: its lag, the 9014, each snapshot's time.

    .venv/bin/python bench/camera_snapshots.py [--http 8] [--rtsp 2] [--stuck 1]

A real platform on loopback with one gas site; the site has ``--http`` cameras answering a JPEG
(``python -m http.server`` in its own process, so that it does not share our GIL), ``--rtsp``
RTSP cameras (ffmpeg's H.264 stream behind the tests' RTSP relay) and ``--stuck`` cameras whose
port accepts and never answers. A gas reading fires the alarm; a 10 ms ticker measures the
loop's lag from then until every camera is recorded (at least 5.2 s, the stuck camera's
timeout). Compare with ``--http 0 --rtsp 0 --stuck 0``. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.cameras_fixtures import RtspCamera, make_test_card  # noqa: E402
from tests.integration.harness import FakeDevice, register, settings_for  # noqa: E402
from tests.integration.test_cameras import live_lel  # noqa: E402

from forewarn.access.users import create_user, issue_api_token  # noqa: E402
from forewarn.app import Platform  # noqa: E402
from forewarn.catalogue import Catalogue  # noqa: E402
from forewarn.store.sqlite import SqliteStore  # noqa: E402

MN = "451202A1FE00000000000001"


def _ms(values: list[float], q: float) -> float:
    return sorted(values)[max(0, int(len(values) * q) - 1)] * 1000


async def scenario(tmp: Path, token: str, urls: list[str]) -> None:
    settings = settings_for(tmp, http_host="127.0.0.1", http_port=0)
    platform = Platform(settings, http=True)
    await platform.start()
    lags: list[float] = []
    stop = False

    async def ticker() -> None:
        while not stop:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - t - 0.01)

    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}", timeout=30) as client:
            for i, url in enumerate(urls):
                answer = await client.post("/api/v1/cameras", headers=auth,
                                           json={"site_id": 1, "name": f"camera {i}", "snapshot_url": url})
                assert answer.status_code == 201, answer.text
            tick = asyncio.create_task(ticker())
            await asyncio.sleep(0.5)
            idle = list(lags)
            lags.clear()
            dev = await FakeDevice.connect(platform.hj212_port)
            sent = time.perf_counter()
            await dev.send(live_lel(MN, 40))
            await dev.answer()
            answered = time.perf_counter() - sent
            shown = (await client.get("/api/v1/alarms", headers=auth)).json()["total"]
            alarm_visible = time.perf_counter() - sent
            recorded: dict[str, tuple[float, int, str]] = {}
            until = sent + 5.2
            while len(recorded) < len(urls) or time.perf_counter() < until:
                for s in (await client.get("/api/v1/alarms/1/snapshots", headers=auth)).json()["items"]:
                    recorded.setdefault(s["camera"], (time.perf_counter() - sent, s["took_ms"], s["error"]))
                await asyncio.sleep(0.05)
            stop = True
            await tick
            await dev.close()
    finally:
        await platform.stop()
    print(f"9014 after {answered * 1000:.1f} ms; alarm listed ({shown}) after {alarm_visible * 1000:.1f} ms")
    print(f"loop lag idle: p99 {_ms(idle, .99):.1f} ms; from the alarm on: p50 {_ms(lags, .5):.1f}, "
          f"p99 {_ms(lags, .99):.1f}, max {max(lags) * 1000:.1f} ms ({len(lags)} ticks)")
    for name, (after, took, error) in sorted(recorded.items()):
        print(f"  {name}: recorded {after * 1000:.0f} ms after the reading (grab {took} ms) {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, default=8)
    parser.add_argument("--rtsp", type=int, default=2)
    parser.add_argument("--stuck", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="forewarn-camera-bench-"))
    settings = settings_for(tmp)
    register(settings, tmp, [{"mn": MN}])
    store = SqliteStore(settings.db_path, Catalogue())
    create_user(store.db, "bench", "x" * 12, "city_admin", actor="bench", origin="bench")
    token = issue_api_token(store.db, "bench", actor="bench", origin="bench").token
    store.close()
    www = tmp / "www"
    www.mkdir()
    make_test_card(www / "snap.jpg")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                               "--directory", str(www)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(64)  # accepted by the kernel, never answered
    cameras = []
    for i in range(args.rtsp):
        (tmp / f"rtsp{i}").mkdir()
        cameras.append(RtspCamera(tmp / f"rtsp{i}"))
    time.sleep(1)
    urls = ([f"http://127.0.0.1:{port}/snap.jpg"] * args.http + [c.url for c in cameras]
            + [f"http://127.0.0.1:{stuck.getsockname()[1]}/snap.jpg"] * args.stuck)
    try:
        asyncio.run(scenario(tmp, token, urls))
    finally:
        server.terminate()
        stuck.close()
        for c in cameras:
            c.close()


if __name__ == "__main__":
    main()
