"""Cameras over HTTP: the registry of a site's cameras, a snapshot now, and an alarm's snapshots.

The registry's use cases are :mod:`forewarn.cameras.registry` (the CLI's too): reading needs a
reading role and shows only the cameras of sites in scope, with credentials in their addresses
masked unless you may change them; writing needs ``write_registry`` within the site's region.

``GET /api/v1/cameras/{id}/snapshot`` is the dashboard's proxy: forewarn grabs the picture
(HTTP or RTSP) and answers it from its own host, so the page's CSP stays ``'self'`` and the
camera's credentials never reach the browser. An alarm's snapshots (taken when it fired,
:mod:`forewarn.cameras.snapshots`) are read with the alarm's scope.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.cameras.evidence import Snapshot, alarm_snapshots, snapshot_file
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
from forewarn.store.cameras import camera_rows
from forewarn.web.auth import BEARER, require_user
from forewarn.web.body import read_json
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Limit, Offset, check_page, next_page
from forewarn.web.writes import write

__all__ = ["CAMERA_ROUTES"]


class CameraPage(msgspec.Struct):
    items: list[Camera]
    total: int
    limit: int
    offset: int
    next: str | None


class AlarmSnapshots(msgspec.Struct):
    """The snapshots taken of the alarm's site when it fired, oldest first."""

    alarm_id: int
    items: list[Snapshot]


def _id(value: int, what: str) -> int:
    if not 0 < value < 2**63:
        raise ApiProblem(404, f"no {what} {value} in your scope")
    return value


def _body(raw: Any, kind: type[Any], hint: str) -> Any:
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        raise ApiProblem(400, f"{exc}: send {hint}") from None


async def _changed(ctx: ApiContext, work: Any) -> Camera:
    try:
        answer: Camera = await write(ctx, work)
    except CameraError as exc:
        raise ApiProblem(exc.status, exc.message) from None
    await ctx.pipeline.reload_registry()  # the live views' hosts (the page's CSP) follow at once
    return answer


Status = Annotated[Literal["active", "retired"] | None, QueryParameter(description="active (default) or retired")]


@get("/api/v1/cameras", tags=["cameras"], summary="Cameras", security=BEARER)
async def camera_list(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
                      site_id: Annotated[int | None, QueryParameter()] = None, status: Status = None,
                      limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> CameraPage:
    """The cameras of the sites in your scope (``site_id``: of one site), with their live-view and
    snapshot addresses (credentials masked unless you may change the camera)."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    page = check_page(limit, offset)
    tz, wanted = ctx.settings.tz, status or "active"

    def run(db: Any) -> tuple[list[Camera], int]:  # a scope's cameras are few: counted as they are read
        every = list_cameras(db, user.scope, tz, site_id=site_id, status=wanted, limit=2**31)
        return every[page[1]:page[1] + page[0]], len(every)

    items, total = await read(ctx, run)
    return CameraPage(items, total, page[0], page[1], next_page(request, page, len(items), total))


@get("/api/v1/cameras/{camera_id:int}", tags=["cameras"], summary="One camera", security=BEARER)
async def camera_one(camera_id: FromPath[int], request: Request[Any, Any, Any],
                     ctx: NamedDependency[ApiContext]) -> Camera:
    """One camera (also a removed one); outside your scope 404, as one that does not exist."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    key, tz = _id(camera_id, "camera"), ctx.settings.tz
    try:
        return await read(ctx, lambda db: get_camera(db, key, user.scope, tz))
    except CameraError as exc:
        raise ApiProblem(exc.status, exc.message) from None


@post("/api/v1/cameras", tags=["cameras"], summary="Add a camera to a site", security=BEARER, status_code=201)
async def camera_add(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> Camera:
    """Body: ``{"site_id", "name", "live_url"?, "snapshot_url"?}`` (one address at least).
    ``live_url``: what the dashboard plays, MJPEG over http(s) or an HLS ``.m3u8`` that the
    browser reaches without credentials; ``snapshot_url``: what forewarn grabs when an alarm
    fires, an http(s) JPEG or an ``rtsp://`` stream (one frame, read by ffmpeg). Audited with
    the addresses masked; a name the site's cameras have already is 409."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)
    reject_unknown_query(request)
    body = _body(await read_json(request), CameraBody, '{"site_id": 1, "name": "...", "snapshot_url": "..."}')
    tz, now = ctx.settings.tz, int(ctx.pipeline.now_ms())
    return await _changed(ctx, lambda db: add_camera(db, body, user.scope, tz, actor=user.name, origin="api",
                                                     now_ms=now))


@patch("/api/v1/cameras/{camera_id:int}", tags=["cameras"], summary="Change a camera", security=BEARER)
async def camera_change(camera_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> Camera:
    """Body: only the fields to change (``name``, ``live_url``, ``snapshot_url``, ``status``)."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)
    reject_unknown_query(request)
    key = _id(camera_id, "camera")
    change = _body(await read_json(request), CameraChange, '{"name"?, "live_url"?, "snapshot_url"?, "status"?}')
    tz, now = ctx.settings.tz, int(ctx.pipeline.now_ms())
    return await _changed(ctx, lambda db: change_camera(db, key, change, user.scope, tz, actor=user.name,
                                                        origin="api", now_ms=now))


@delete("/api/v1/cameras/{camera_id:int}", tags=["cameras"], summary="Remove a camera (its snapshots stay)",
        security=BEARER, status_code=200)
async def camera_remove(camera_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> Camera:
    """The camera is retired: no more snapshots nor panel; the snapshots it took stay with their alarms."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)
    reject_unknown_query(request)
    key, tz, now = _id(camera_id, "camera"), ctx.settings.tz, int(ctx.pipeline.now_ms())
    return await _changed(ctx, lambda db: remove_camera(db, key, user.scope, tz, actor=user.name, origin="api",
                                                        now_ms=now))


_JPEG_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}


@get("/api/v1/cameras/{camera_id:int}/snapshot", tags=["cameras"], summary="A snapshot of a camera now",
     security=BEARER)
async def camera_snapshot(camera_id: FromPath[int], request: Request[Any, Any, Any],
                          ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """A JPEG grabbed from the camera now (shared by requests within 2 s), through forewarn: the
    browser needs neither the camera's address nor its credentials. A camera that does not answer
    within ``camera_timeout_s`` is 504, one that answers wrongly 502, with what happened."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    key = _id(camera_id, "camera")
    found = await read(ctx, lambda db: camera_rows(db, user.scope, camera_id=key))
    if not found:
        raise ApiProblem(404, f"no camera {camera_id} in your scope")
    camera = found[0]
    if not camera.snapshot_url:
        raise ApiProblem(404, f"camera {camera_id} ({camera.name}) has no snapshot address")
    if ctx.cameras is None:
        raise ApiProblem(503, "snapshots are not taken in this process")
    grab = await ctx.cameras.latest(camera.id, camera.snapshot_url)
    if not grab.ok:
        status = 504 if "did not answer" in grab.error else 502
        raise ApiProblem(status, f"camera {camera.id} ({camera.name}) {grab.error}",
                         title="Camera not answering" if status == 504 else "Camera failed")
    return Response(grab.jpeg, media_type="image/jpeg", headers={**_JPEG_HEADERS, "Cache-Control": "no-store"})


@get("/api/v1/alarms/{alarm_id:int}/snapshots", tags=["alarms"], summary="An alarm's camera snapshots",
     security=BEARER)
async def alarm_snapshot_list(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                              ctx: NamedDependency[ApiContext]) -> AlarmSnapshots:
    """What each camera of the site gave when the alarm fired: the time, the JPEG's sha256, size
    and address, or why there is none ("did not answer in 5 s"). Outside your scope: 404."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    key, tz = _id(alarm_id, "alarm"), ctx.settings.tz
    found = await read(ctx, lambda db: alarm_snapshots(db, key, user.scope, tz))
    if found is None:
        raise ApiProblem(404, f"no alarm {alarm_id} in your scope")
    return AlarmSnapshots(key, found)


@get("/api/v1/alarms/{alarm_id:int}/snapshots/{snapshot_id:int}", tags=["alarms"],
     summary="One kept snapshot of an alarm", security=BEARER)
async def alarm_snapshot_jpeg(alarm_id: FromPath[int], snapshot_id: FromPath[int], request: Request[Any, Any, Any],
                              ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """The JPEG as it was kept when the alarm fired (its sha256 is in the list)."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    key = _id(alarm_id, "alarm")
    folder = ctx.settings.snapshots_path
    path = await read(ctx, lambda db: snapshot_file(db, folder, key, snapshot_id, user.scope))
    if path is None:
        raise ApiProblem(404, f"alarm {alarm_id} has no snapshot {snapshot_id} in your scope")
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError:
        raise ApiProblem(410, f"snapshot {snapshot_id} is no longer in the data directory", title="Gone") from None
    return Response(data, media_type="image/jpeg",
                    headers={**_JPEG_HEADERS, "Cache-Control": "private, max-age=86400, immutable"})


#: every handler of this module, for the app's route list
CAMERA_ROUTES = [camera_list, camera_one, camera_add, camera_change, camera_remove, camera_snapshot,
                 alarm_snapshot_list, alarm_snapshot_jpeg]
