"""Cameras on the real platform: a scoped registry whose credentials only registry users see,
snapshots taken when an alarm fires (from an HTTP camera and an RTSP stream on loopback) and
kept with their sha256, a dead camera noted without delaying the alarm, the dashboard's
snapshot proxy, and the command line."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from forewarn.app import Platform
from forewarn.cameras.demo import DEMO_CAMERA_NAME, TEST_CARD_PATH
from forewarn.cli import main as cli_main
from forewarn.cli.cameras import demo_cameras
from forewarn.web.dashboard.routes import STATIC_DIR
from tests.integration.api import DATONG_MN, HECHI_MN, TZ, Fleet, assert_problem, bearer, run
from tests.integration.cameras_fixtures import RtspCamera, SnapshotServer, make_test_card
from tests.integration.harness import FakeDevice, data_packet, eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def card(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_test_card(tmp_path_factory.mktemp("card") / "card.jpg")


@pytest.fixture
def camera_server(card: bytes) -> Iterator[SnapshotServer]:
    server = SnapshotServer(card)
    yield server
    server.close()


@pytest.fixture
def rtsp_camera(tmp_path: Path) -> Iterator[RtspCamera]:
    camera = RtspCamera(tmp_path)
    yield camera
    camera.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_lel(mn: str, value: float, *more: tuple[str, float]) -> bytes:
    """A combustible-gas reading taken now (a live alarm: a backfill gets no snapshot), of GD1 and
    of ``more`` detectors."""
    now = datetime.now(TZ)
    cp = ";".join(f"{code}-LEL={v},{code}-Flag=N" for code, v in (("GD1", value), *more))
    return data_packet(mn, f"DataTime={now:%Y%m%d%H%M%S};{cp}", qn=f"{now:%Y%m%d%H%M%S}000")


def site_of(fleet: Fleet, mn: str) -> int:
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        return int(db.execute("SELECT site_id FROM devices WHERE mn = ?", (mn,)).fetchone()[0])
    finally:
        db.close()


async def add(client: httpx.AsyncClient, token: str, **body: Any) -> dict[str, Any]:
    answer = await client.post("/api/v1/cameras", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def snapshots_of(client: httpx.AsyncClient, token: str, alarm_id: int, count: int,
                       timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        answer = await client.get(f"/api/v1/alarms/{alarm_id}/snapshots", headers=bearer(token))
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        if len(items) >= count:
            return items
        assert time.monotonic() < deadline, f"only {items} after {timeout} s"
        await asyncio.sleep(0.05)


def test_the_camera_registry_is_scoped_and_only_registry_users_see_credentials(
        fleet: Fleet, camera_server: SnapshotServer) -> None:
    t = fleet.tokens
    hechi_site, datong_site = site_of(fleet, HECHI_MN), site_of(fleet, DATONG_MN)
    secret_url = camera_server.url("/auth.jpg", "admin:s3cret")

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        camera = await add(client, t["hechi"], site_id=hechi_site, name="罐区东", snapshot_url=secret_url,
                           live_url="http://127.0.0.1:9/mjpg/video.mjpg")
        assert camera["snapshot_url"] == secret_url and not camera["masked"] and camera["site"] == "储配站"
        assert camera["live_kind"] == "image"
        # the enterprise's own user sees the camera, but not its password
        seen = (await client.get("/api/v1/cameras", params={"site_id": hechi_site}, headers=bearer(t["gasco"]))).json()
        assert [c["name"] for c in seen["items"]] == ["罐区东"] and seen["total"] == 1
        assert seen["items"][0]["snapshot_url"] == camera_server.url("/auth.jpg", "admin:***")
        assert seen["items"][0]["masked"] and "s3cret" not in str(seen)
        # another district neither sees it nor may add one to the site
        assert (await client.get("/api/v1/cameras", headers=bearer(t["datong"]))).json()["items"] == []
        assert_problem(await client.get(f"/api/v1/cameras/{camera['id']}", headers=bearer(t["datong"])), 404)
        assert_problem(await client.post("/api/v1/cameras", json={"site_id": hechi_site, "name": "x",
                                                                  "snapshot_url": "http://x/y.jpg"},
                                         headers=bearer(t["datong"])), 404)
        assert_problem(await client.post("/api/v1/cameras", json={"site_id": datong_site, "name": "x",
                                                                  "snapshot_url": "http://x/y.jpg"},
                                         headers=bearer(t["hechi"])), 404)
        assert_problem(await client.patch(f"/api/v1/cameras/{camera['id']}", json={"name": "y"},
                                          headers=bearer(t["gasco"])), 403)
        # mistakes are named, all at once; a second camera of the same name is 409
        bad = assert_problem(await client.post("/api/v1/cameras", json={
            "site_id": hechi_site, "name": " ", "snapshot_url": "ftp://cam/x.jpg", "live_url": "rtsp://cam/1"},
            headers=bearer(t["city"])), 400)
        assert "name: is empty" in str(bad["detail"]) and "snapshot_url: must start with http://" in str(bad["detail"])
        assert "live_url: must start with http:// or https://" in str(bad["detail"])
        assert_problem(await client.post("/api/v1/cameras", json={"site_id": hechi_site, "name": "罐区东",
                                                                  "snapshot_url": "http://x/y.jpg"},
                                         headers=bearer(t["city"])), 409)
        assert_problem(await client.post("/api/v1/cameras", json={"site_id": hechi_site, "name": "z"},
                                         headers=bearer(t["city"])), 400)
        # the page's CSP lets the browser load exactly that live view's host
        shell = await client.get("/")
        assert "img-src 'self' data: blob: http://127.0.0.1:9;" in shell.headers["content-security-policy"]
        # removing retires it: gone from the list and the CSP, kept for its snapshots
        removed = await client.delete(f"/api/v1/cameras/{camera['id']}", headers=bearer(t["hechi"]))
        assert removed.status_code == 200 and removed.json()["status"] == "retired"
        assert (await client.get("/api/v1/cameras", headers=bearer(t["city"]))).json()["total"] == 0
        assert "127.0.0.1:9" not in (await client.get("/")).headers["content-security-policy"]
        # the audit log has every change, the password never
        audit = (await client.get("/api/v1/audit", params={"entity": "camera"}, headers=bearer(t["city"]))).text
        assert "camera.create" in audit and "camera.retire" in audit and "s3cret" not in audit

    run(fleet.settings, scenario)


def test_an_alarm_keeps_a_snapshot_of_each_camera_of_its_site(
        fleet: Fleet, camera_server: SnapshotServer, rtsp_camera: RtspCamera, card: bytes,
        capsys: pytest.CaptureFixture[str]) -> None:
    t = fleet.tokens
    site = site_of(fleet, HECHI_MN)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await add(client, t["city"], site_id=site, name="HTTP", snapshot_url=camera_server.url("/snap.jpg"))
        await add(client, t["city"], site_id=site, name="Basic",
                  snapshot_url=camera_server.url("/auth.jpg", "admin:s3cret"))
        await add(client, t["city"], site_id=site, name="RTSP", snapshot_url=rtsp_camera.url)
        await add(client, t["city"], site_id=site, name="Login page", snapshot_url=camera_server.url("/page"))
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(live_lel(HECHI_MN, 40, ("GD2", 45)))  # two detectors: two alarms, at once
        assert (await dev.answer()).cn == "9014"
        await dev.close()
        alarm, other = (await client.get("/api/v1/alarms", headers=bearer(t["gasco"]))).json()["items"]
        shots = {s["camera"]: s for s in await snapshots_of(client, t["gasco"], alarm["id"], 4)}
        both = {s["camera"]: s for s in await snapshots_of(client, t["gasco"], other["id"], 4)}
        assert both["RTSP"]["sha256"] == shots["RTSP"]["sha256"]  # one grab for both alarms:
        assert camera_server.hits["/snap.jpg"] == 1 and rtsp_camera.sessions == 1  # each camera asked once
        assert shots["HTTP"]["sha256"] == hashlib.sha256(card).hexdigest() and shots["HTTP"]["size"] == len(card)
        assert shots["Basic"]["sha256"] == shots["HTTP"]["sha256"] and not shots["Basic"]["error"]
        assert "not a JPEG" in shots["Login page"]["error"] and not shots["Login page"]["url"]
        rtsp = shots["RTSP"]
        assert not rtsp["error"] and rtsp["size"] > 1000
        for shot in (shots["HTTP"], rtsp):
            jpeg = await client.get(shot["url"], headers=bearer(t["gasco"]))
            assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
            assert hashlib.sha256(jpeg.content).hexdigest() == shot["sha256"] and jpeg.content[:2] == b"\xff\xd8"
            assert datetime.fromisoformat(shot["taken"]).tzinfo is not None
        # outside the alarm's scope there is nothing to see
        assert_problem(await client.get(f"/api/v1/alarms/{alarm['id']}/snapshots", headers=bearer(t["datong"])), 404)
        assert_problem(await client.get(shots["HTTP"]["url"], headers=bearer(t["factory"])), 404)
        assert (Path(fleet.settings.snapshots_path) / str(alarm["id"]) / f"{rtsp['sha256']}.jpg").is_file()
        seen.update(shots)

    seen: dict[str, Any] = {}
    run(fleet.settings, scenario)
    # the command line shows the same evidence
    assert cli_main(["alarms", "show", "2", "--lang", "en", "--data", str(fleet.settings.data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"RTSP  sha256 {seen['RTSP']['sha256']}" in out and "Login page  answered" in out


def test_a_dead_camera_is_noted_and_never_delays_the_alarm(fleet: Fleet, camera_server: SnapshotServer) -> None:
    t = fleet.tokens
    site = site_of(fleet, HECHI_MN)
    settings = dataclasses.replace(fleet.settings, camera_timeout_s=2.0)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await add(client, t["city"], site_id=site, name="stuck", snapshot_url=camera_server.url("/hang.jpg"))
        await add(client, t["city"], site_id=site, name="unplugged",
                  snapshot_url=f"http://127.0.0.1:{closed_port()}/snap.jpg")
        await add(client, t["city"], site_id=site, name="rtsp gone", snapshot_url=f"rtsp://127.0.0.1:{closed_port()}/")
        dev = await FakeDevice.connect(platform.hj212_port)
        sent = time.monotonic()
        await dev.send(live_lel(HECHI_MN, 40))
        assert (await dev.answer()).cn == "9014"
        await dev.close()
        # the alarm is stored and shown well before the stuck camera's 2 s are up
        [alarm] = (await client.get("/api/v1/alarms", headers=bearer(t["hechi"]))).json()["items"]
        assert alarm["state"] == "firing" and time.monotonic() - sent < 1.0
        shots = {s["camera"]: s for s in await snapshots_of(client, t["hechi"], alarm["id"], 3)}
        assert shots["stuck"]["error"] == "did not answer in 2 s" and not shots["stuck"]["sha256"]
        assert 1900 <= shots["stuck"]["took_ms"] < 4000
        assert "could not be reached" in shots["unplugged"]["error"]
        assert "gave no picture" in shots["rtsp gone"]["error"]
        # the platform still answers devices and people
        assert (await client.get("/api/v1/health")).status_code == 200

    run(settings, scenario)


def test_the_snapshot_proxy_answers_a_picture_now_or_says_why_not(
        fleet: Fleet, camera_server: SnapshotServer, card: bytes) -> None:
    t = fleet.tokens
    site = site_of(fleet, HECHI_MN)
    settings = dataclasses.replace(fleet.settings, camera_timeout_s=1.0)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        good = await add(client, t["city"], site_id=site, name="good",
                         snapshot_url=camera_server.url("/auth.jpg", "admin:s3cret"))
        stuck = await add(client, t["city"], site_id=site, name="stuck", snapshot_url=camera_server.url("/hang.jpg"))
        live_only = await add(client, t["city"], site_id=site, name="live", live_url="http://127.0.0.1:9/v.m3u8")
        assert live_only["live_kind"] == "hls" and not live_only["has_snapshot"]
        answers = await asyncio.gather(*(client.get(f"/api/v1/cameras/{good['id']}/snapshot",
                                                    headers=bearer(t["gasco"])) for _ in range(3)))
        assert all(a.status_code == 200 and a.content == card for a in answers)
        assert answers[0].headers["content-type"] == "image/jpeg"
        assert camera_server.hits["/auth.jpg"] <= 2  # three viewers at once cost the camera one grab
        body = assert_problem(await client.get(f"/api/v1/cameras/{stuck['id']}/snapshot", headers=bearer(t["gasco"])),
                              504)
        assert "did not answer in 1 s" in str(body["detail"])
        assert_problem(await client.get(f"/api/v1/cameras/{live_only['id']}/snapshot", headers=bearer(t["city"])),
                       404)
        assert_problem(await client.get(f"/api/v1/cameras/{good['id']}/snapshot", headers=bearer(t["datong"])), 404)

    run(settings, scenario)


def forewarn(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forewarn", "cameras", *args, "--data", str(data)],
                          capture_output=True, text=True, timeout=60)


def test_the_command_line_adds_lists_grabs_and_removes_cameras(
        fleet: Fleet, camera_server: SnapshotServer, card: bytes, tmp_path: Path) -> None:
    data, site = fleet.settings.data_dir, site_of(fleet, HECHI_MN)
    added = forewarn(data, "add", "--site", str(site), "--name", "门口", "--snapshot",
                     camera_server.url("/auth.jpg", "admin:s3cret"))
    assert added.returncode == 0 and added.stdout.startswith("added camera 1  site"), added.stderr
    listed = forewarn(data, "list", "--format", "json")
    assert '"name": "门口"' in listed.stdout and "admin:s3cret" in listed.stdout  # the data directory's holder
    out = tmp_path / "now.jpg"
    grabbed = forewarn(data, "snapshot", "1", "-o", str(out))
    assert grabbed.returncode == 0 and out.read_bytes() == card, grabbed.stderr
    wrong = forewarn(data, "add", "--site", "99999", "--name", "x", "--snapshot", "http://x/y.jpg")
    assert wrong.returncode == 2 and wrong.stderr.strip() == "forewarn: error: site_id: no site 99999 in your scope"
    assert forewarn(data, "remove", "1").returncode == 0
    assert forewarn(data, "list").stdout == ""


def test_the_demos_simulated_camera_shows_forewarns_own_test_card(fleet: Fleet) -> None:
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await asyncio.to_thread(demo_cameras, fleet.settings, platform.http_port, first_run=True)
        [camera] = (await client.get("/api/v1/cameras", headers=bearer(t["gasco"]))).json()["items"]
        assert camera["name"] == DEMO_CAMERA_NAME and camera["site_id"] == site_of(fleet, HECHI_MN)
        card = await client.get(f"/api/v1/cameras/{camera['id']}/snapshot", headers=bearer(t["gasco"]))
        assert card.status_code == 200 and card.content == (STATIC_DIR / TEST_CARD_PATH[8:]).read_bytes()
        # a later run points it at its own port; one the user removed is not brought back
        await asyncio.to_thread(demo_cameras, fleet.settings, 1234, first_run=False)
        moved = (await client.get(f"/api/v1/cameras/{camera['id']}", headers=bearer(t["city"]))).json()
        assert moved["snapshot_url"] == f"http://127.0.0.1:1234{TEST_CARD_PATH}"
        await client.delete(f"/api/v1/cameras/{camera['id']}", headers=bearer(t["city"]))
        await asyncio.to_thread(demo_cameras, fleet.settings, 1234, first_run=False)
        assert (await client.get("/api/v1/cameras", headers=bearer(t["city"]))).json()["total"] == 0

    run(fleet.settings, scenario)


def test_a_cameras_sheet_adds_and_changes_cameras_within_ones_reach(fleet: Fleet) -> None:
    t = fleet.tokens
    sheet = ("enterprise,site,camera,live_url,snapshot_url\n"
             "河池市液化石油气公司,储配站,东门,,http://10.0.0.5/snap.jpg\n"
             "河池市液化石油气公司,储配站,罐区,http://10.0.0.6/video.mjpg,rtsp://admin:pw@10.0.0.6/1\n")

    async def upload(token: str, text: str) -> httpx.Response:
        return await client_box[0].post("/api/v1/registry/import", content=text.encode(),
                                        headers={**bearer(token), "Content-Type": "text/csv"})

    client_box: list[httpx.AsyncClient] = []

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        client_box.append(client)
        assert (await upload(t["hechi"], sheet)).status_code == 200
        cams = {c["name"]: c for c in (await client.get("/api/v1/cameras", headers=bearer(t["hechi"]))).json()["items"]}
        assert cams["罐区"]["snapshot_url"] == "rtsp://admin:pw@10.0.0.6/1" and cams["东门"]["live_kind"] == "none"
        # again with a changed address: the same camera changed, no second one
        assert (await upload(t["hechi"], sheet.replace("10.0.0.5", "10.0.0.9"))).status_code == 200
        cams = {c["name"]: c for c in (await client.get("/api/v1/cameras", headers=bearer(t["hechi"]))).json()["items"]}
        assert len(cams) == 2 and cams["东门"]["snapshot_url"] == "http://10.0.0.9/snap.jpg"
        # another district's site, and a bad address: each a finding with its row; nothing imported
        bad = ("enterprise,site,camera,live_url,snapshot_url\n"
               "河池市液化石油气公司,储配站,北门,,ftp://10.0.0.7/x.jpg\n"
               "大同某工厂,一号车间,车间,,http://10.0.0.8/snap.jpg\n")
        refused = await upload(t["hechi"], bad)
        assert refused.status_code == 400, refused.text
        found = {(f["row"], f["column"]) for f in refused.json()["findings"]}
        assert found == {(2, "snapshot_url"), (3, "site")}, refused.text
        assert (await client.get("/api/v1/cameras", headers=bearer(t["city"]))).json()["total"] == 2

    run(fleet.settings, scenario)


def test_an_alarm_judged_from_backfilled_data_gets_no_snapshot_of_now(
        fleet: Fleet, camera_server: SnapshotServer) -> None:
    t = fleet.tokens
    site = site_of(fleet, HECHI_MN)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await add(client, t["city"], site_id=site, name="HTTP", snapshot_url=camera_server.url("/snap.jpg"))
        old = data_packet(HECHI_MN, "DataTime=20261122080000;GD1-LEL=40,GD1-Flag=N")  # days ago: a backfill
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(old)
        assert (await dev.answer()).cn == "9014"
        await dev.close()
        [alarm] = (await client.get("/api/v1/alarms", headers=bearer(t["city"]))).json()["items"]
        db = sqlite3.connect(fleet.settings.db_path)
        fired = db.execute("SELECT MAX(id) FROM alarm_steps WHERE alarm_id = ?", (alarm["id"],)).fetchone()[0]
        db.close()
        assert platform.cameras is not None
        await eventually(lambda: platform.cameras.last_step_id >= fired)  # the taker has looked at it
        await asyncio.sleep(0.2)
        assert (await client.get(f"/api/v1/alarms/{alarm['id']}/snapshots", headers=bearer(t["city"]))).json()[
            "items"] == []
        assert camera_server.hits.get("/snap.jpg", 0) == 0

    run(fleet.settings, scenario)
