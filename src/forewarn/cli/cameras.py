"""``forewarn cameras``: the camera registry from the command line, and a test grab.

The same use cases as the API's (:mod:`forewarn.cameras.registry`), with the reach of whoever
holds the data directory (everything): addresses are shown as stored. A running server sees a
change within its registry poll (the live views' hosts of the dashboard's CSP included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.cameras.demo import ensure_demo_cameras
from forewarn.cameras.grab import Grabber
from forewarn.cameras.registry import (
    Camera,
    CameraBody,
    CameraChange,
    CameraError,
    add_camera,
    change_camera,
    get_camera,
    list_cameras,
    remove_camera,
)
from forewarn.cli.common import UserError, actor_name, open_store, settings_from
from forewarn.config import Settings

__all__ = ["add_commands", "demo_cameras"]

_ALL = Scope(Role.CITY_ADMIN)  # whoever holds the data directory reaches everything


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("cameras", help="the cameras of sites: live view and alarm snapshots")
    csub = p.add_subparsers(dest="cameras_command", metavar="ACTION", required=True)
    a = csub.add_parser("add", parents=[common], help="add a camera to a site",
                        description="Add a camera: a live-view address the dashboard plays (MJPEG over http(s), or "
                        "an HLS .m3u8) and/or a snapshot address forewarn grabs when an alarm fires at the site "
                        "(an http(s) JPEG, or an rtsp:// stream read by ffmpeg).")
    a.add_argument("--site", type=int, required=True, metavar="SITE_ID")
    a.add_argument("--name", required=True)
    a.add_argument("--live", default="", metavar="URL", help="live-view address (http/https)")
    a.add_argument("--snapshot", default="", metavar="URL", help="snapshot address (http/https/rtsp)")
    a.add_argument("--by", help="who makes the change (default $FOREWARN_USER or the login name)")
    a.set_defaults(handler=add_cmd)
    ls = csub.add_parser("list", parents=[common], help="list cameras")
    ls.add_argument("--site", type=int, metavar="SITE_ID")
    ls.add_argument("--retired", action="store_true", help="the removed ones instead")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(handler=list_cmd)
    ch = csub.add_parser("change", parents=[common], help="change a camera's name or addresses")
    ch.add_argument("camera_id", type=int, metavar="CAMERA_ID")
    ch.add_argument("--name")
    ch.add_argument("--live", metavar="URL", help="live-view address ('' to clear)")
    ch.add_argument("--snapshot", metavar="URL", help="snapshot address ('' to clear)")
    ch.add_argument("--by", help="who makes the change")
    ch.set_defaults(handler=change_cmd)
    rm = csub.add_parser("remove", parents=[common], help="remove (retire) a camera; its snapshots stay")
    rm.add_argument("camera_id", type=int, metavar="CAMERA_ID")
    rm.add_argument("--by", help="who makes the change")
    rm.set_defaults(handler=remove_cmd)
    sn = csub.add_parser("snapshot", parents=[common], help="grab a snapshot now (to check a camera's address)")
    sn.add_argument("camera_id", type=int, metavar="CAMERA_ID")
    sn.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="where to write the JPEG")
    sn.set_defaults(handler=snapshot_cmd)


def _line(c: Camera) -> str:
    parts = [f"{c.id}", f"site {c.site_id} {c.site}", c.name]
    if c.live_url:
        parts.append(f"live {c.live_url}")
    if c.snapshot_url:
        parts.append(f"snapshot {c.snapshot_url}")
    if c.status != "active":
        parts.append(c.status)
    return "  ".join(parts)


def _change(args: argparse.Namespace, work: Any) -> Camera:
    settings = settings_from(args)
    box: list[Camera] = []
    with open_store(settings) as store:
        try:
            store.run_in_transaction(lambda db: box.append(work(db, settings.tz, int(time.time() * 1000))))
        except CameraError as exc:
            raise UserError(exc.message) from None
    return box[0]


def add_cmd(args: argparse.Namespace) -> int:
    body = CameraBody(site_id=args.site, name=args.name, live_url=args.live, snapshot_url=args.snapshot)
    camera = _change(args, lambda db, tz, now: add_camera(db, body, _ALL, tz, actor=actor_name(args.by),
                                                          origin="cli", now_ms=now))
    print(f"added camera {_line(camera)}")
    return 0


def change_cmd(args: argparse.Namespace) -> int:
    change = CameraChange(name=args.name, live_url=args.live, snapshot_url=args.snapshot)
    camera = _change(args, lambda db, tz, now: change_camera(db, args.camera_id, change, _ALL, tz,
                                                             actor=actor_name(args.by), origin="cli", now_ms=now))
    print(f"changed camera {_line(camera)}")
    return 0


def remove_cmd(args: argparse.Namespace) -> int:
    camera = _change(args, lambda db, tz, now: remove_camera(db, args.camera_id, _ALL, tz,
                                                             actor=actor_name(args.by), origin="cli", now_ms=now))
    print(f"removed camera {camera.id} ({camera.name}) of site {camera.site_id}; its snapshots stay")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        found = list_cameras(store.db, _ALL, settings.tz, site_id=args.site,
                             status="retired" if args.retired else "active")
    if args.format == "json":
        print(json.dumps(msgspec.to_builtins(found), ensure_ascii=False, indent=2))
        return 0
    for camera in found:
        print(_line(camera))
    if not found:
        print("no cameras", file=sys.stderr)
    return 0


def snapshot_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        try:
            camera = get_camera(store.db, args.camera_id, _ALL, settings.tz)
        except CameraError as exc:
            raise UserError(exc.message) from None
    if not camera.snapshot_url:
        raise UserError(f"camera {camera.id} ({camera.name}) has no snapshot address (forewarn cameras change "
                        f"{camera.id} --snapshot URL)")

    async def grab() -> Any:
        grabber = Grabber(settings.camera_timeout_s)
        try:
            return await grabber.grab(camera.snapshot_url)
        finally:
            await grabber.aclose()

    result = asyncio.run(grab())
    if not result.ok:
        raise UserError(f"camera {camera.id} ({camera.name}) {result.error}")
    args.output.write_bytes(result.jpeg)
    print(f"wrote {args.output}: {len(result.jpeg)} bytes in {result.took_ms} ms")
    return 0


def demo_cameras(settings: Settings, http_port: int, *, first_run: bool) -> None:
    """``forewarn demo``: the simulated cameras of two demo sites (see forewarn.cameras.demo), once
    the HTTP port serving their test card is known (a thread of its own: the write waits for the lock)."""
    host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
    host = f"[{host}]" if ":" in host else host
    with open_store(settings) as store:
        box: list[int] = []
        store.run_in_transaction(lambda db: box.append(ensure_demo_cameras(
            db, f"http://{host}:{http_port}", settings.tz, int(time.time() * 1000), first_run=first_run)))
    if box[0] and first_run:
        print(f"added {box[0]} simulated cameras (a test card) to demo sites: their site pages show the camera "
              "panel, and their alarms keep a snapshot", flush=True)
