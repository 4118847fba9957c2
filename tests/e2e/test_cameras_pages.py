"""Cameras in a real browser: the site page's camera panel shows a snapshot fetched through
forewarn for a site with a camera and is absent for a site without; a gas leak's alarm page
shows the snapshot the camera gave when it fired, with its time and sha256."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import GAS_MN, Server, shot
from tests.integration.cameras_fixtures import SnapshotServer, make_test_card


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnapshotServer]:
    server = SnapshotServer(make_test_card(tmp_path_factory.mktemp("card") / "card.jpg"))
    yield server
    server.close()


def until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll a JavaScript expression (a string for wait_for_function is refused by the CSP)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        page.wait_for_timeout(50)


def test_the_site_page_shows_its_cameras_and_the_alarm_page_its_snapshot(
        server: Server, open_page: Any, camera: SnapshotServer) -> None:
    with server.api() as api:
        [device] = api.get("/api/v1/devices", params={"mn": GAS_MN}).json()["items"]
        site = device["site_id"]
        other = next(s["id"] for s in api.get("/api/v1/sites", params={"limit": 100}).json()["items"]
                     if s["id"] != site)
        answer = api.post("/api/v1/cameras", json={"site_id": site, "name": "罐区东侧",
                                                   "snapshot_url": camera.url("/auth.jpg", "admin:s3cret")})
        assert answer.status_code == 201, answer.text
    camera_id = answer.json()["id"]
    try:
        pages(server, open_page, camera, site, other)
    finally:  # the server is the package's: its other pages must not find a camera whose server is gone
        with server.api() as api:
            assert api.delete(f"/api/v1/cameras/{camera_id}").status_code == 200


def pages(server: Server, open_page: Any, camera: SnapshotServer, site: int, other: int) -> None:
    for lang in ("zh", "en"):
        page = open_page(lang=lang, path=f"/sites/{other}")
        page.wait_for_selector("section.site-head h1")
        assert page.locator("[data-test=camera-panel]").count() == 0
        page = open_page(lang=lang, path=f"/sites/{site}")
        page.wait_for_selector("[data-test=camera-panel] figcaption")
        assert "罐区东侧" in page.inner_text("[data-test=camera-panel]")
        until(page, "document.querySelector('[data-test=camera-snapshot]').naturalWidth === 320")
        assert "s3cret" not in page.content()
        page.locator("[data-test=camera-panel]").scroll_into_view_if_needed()
        shot(page, f"site-cameras-{lang}")

    at = server.gas_leak(64.0, code="GD7")
    with server.api() as api:
        deadline = time.monotonic() + 15
        while True:
            alarms = api.get("/api/v1/alarms", params={"site": site, "limit": 20}).json()["items"]
            fired = [a for a in alarms if "GD7" in a.get("point", "") + a.get("explanation", "")]
            if fired:
                snaps = api.get(f"/api/v1/alarms/{fired[0]['id']}/snapshots").json()["items"]
                if snaps:
                    break
            assert time.monotonic() < deadline, f"no snapshot of the leak at {at}: {alarms[:2]}"
            time.sleep(0.1)
    [snap] = snaps
    assert snap["camera"] == "罐区东侧" and not snap["error"]
    assert snap["sha256"] == hashlib.sha256(camera.jpeg).hexdigest()
    for lang in ("zh", "en"):
        page = open_page(lang=lang, path=f"/alarms/{fired[0]['id']}")
        page.wait_for_selector(f"[data-test=alarm-snapshots] img[data-sha256='{snap['sha256']}']")
        until(page, "document.querySelector('[data-test=alarm-snapshots] img').naturalWidth === 320")
        text = page.inner_text("[data-test=alarm-snapshots]")
        assert f"sha256 {snap['sha256']}" in text and "罐区东侧" in text
        assert ("拍摄于" if lang == "zh" else "taken") in text
        page.locator("[data-test=alarm-snapshots]").scroll_into_view_if_needed()
        assert Path(shot(page, f"alarm-snapshot-{lang}")).is_file()
