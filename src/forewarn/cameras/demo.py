"""The demo's simulated cameras: two demo sites get a camera whose snapshot is a test card.

There is no real camera in a demo, and an empty camera panel teaches a newcomer nothing. So
``forewarn demo`` registers, on its first run, a camera named as simulated at one gas station
and one construction site, whose snapshot address is a test-card JPEG that forewarn serves
itself (``/static/demo/camera-test-card.jpg``, labelled SIMULATED CAMERA): the site pages show
the panel and an alarm at those sites keeps a snapshot, through the same code as a real camera.

The address names the HTTP port of the run, so later runs point the demo cameras that are
still there at their own port; a demo camera the user removed stays removed.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.cameras.registry import CameraBody, CameraChange, add_camera, change_camera, list_cameras

__all__ = ["DEMO_CAMERA_NAME", "DEMO_CAMERA_SITES", "TEST_CARD_PATH", "ensure_demo_cameras"]

DEMO_CAMERA_NAME = "模拟摄像头（演示） Simulated camera"
TEST_CARD_PATH = "/static/demo/camera-test-card.jpg"
#: the MNs whose sites get a demo camera: 拉友液化石油气储配站 (Hechi) and 御东新区安置房三期项目 (Datong)
DEMO_CAMERA_SITES = ("451202A1FE00000000000001", "14021339FE00000000000057")
_ALL = Scope(Role.CITY_ADMIN)


def ensure_demo_cameras(db: sqlite3.Connection, base_url: str, tz: ZoneInfo, now_ms: int, *, first_run: bool) -> int:
    """Add the demo cameras (``first_run``) or point those still there at ``base_url``; how many
    cameras now show the test card."""
    url = base_url.rstrip("/") + TEST_CARD_PATH
    count = 0
    for mn in DEMO_CAMERA_SITES:
        row = db.execute("SELECT site_id FROM devices WHERE mn = ?", (mn,)).fetchone()
        if row is None:
            continue
        site_id = int(row[0])
        mine = [c for c in list_cameras(db, _ALL, tz, site_id=site_id)
                if c.name == DEMO_CAMERA_NAME and urlsplit(c.snapshot_url).path == TEST_CARD_PATH]
        for camera in mine:
            if camera.snapshot_url != url:
                change_camera(db, camera.id, CameraChange(snapshot_url=url), _ALL, tz, actor="forewarn demo",
                              origin="demo", now_ms=now_ms)
            count += 1
        if first_run and not mine:
            add_camera(db, CameraBody(site_id=site_id, name=DEMO_CAMERA_NAME, snapshot_url=url), _ALL, tz,
                       actor="forewarn demo", origin="demo", now_ms=now_ms)
            count += 1
    return count
