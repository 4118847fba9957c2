"""The camera registry's use cases: add, change, remove and list the cameras of a site.

One function each, called inside the caller's transaction (the API's on the writer thread, the
CLI's on its own connection), so the API, the command line and the dashboard add a camera the
same way. Reach is the site's: a camera lies in its site's region, so a district administrator
adds and changes cameras of their own region's sites only (403 beyond, 404 for a site or camera
outside their scope, as for every registry entity). Removing retires the camera: the snapshots
it took stay with their alarms.

Addresses may hold the camera's credentials. They are answered as stored only to users who may
change the camera (``write_registry`` within its region); everyone else sees them masked
(:func:`forewarn.cameras.urls.mask`), and the audit log never holds them unmasked.
"""

from __future__ import annotations

import sqlite3
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access import audit
from forewarn.access.roles import Action
from forewarn.access.scope import Scope
from forewarn.cameras import urls
from forewarn.store import cameras as sql
from forewarn.times import iso

__all__ = ["Camera", "CameraBody", "CameraChange", "CameraError", "add_camera", "change_camera", "get_camera",
           "list_cameras", "remove_camera"]

MAX_NAME = 100


class CameraError(Exception):
    """A camera change that cannot be made: an HTTP-like status and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CameraBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new camera: at least one of its addresses."""

    site_id: int
    name: str
    #: what the dashboard plays: MJPEG (or a still) over HTTP(S) in an <img>, or an HLS .m3u8
    live_url: str = ""
    #: what forewarn grabs when an alarm fires: an HTTP(S) JPEG, or an RTSP stream (one frame, by ffmpeg)
    snapshot_url: str = ""


class CameraChange(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields to change (``status: active`` brings a removed camera back)."""

    name: str | None = None
    live_url: str | None = None
    snapshot_url: str | None = None
    status: Literal["active", "retired"] | None = None


class Camera(msgspec.Struct):
    """A camera as the user may see it."""

    id: int
    site_id: int
    site: str
    enterprise: str
    region_code: str
    name: str
    #: as stored for those who may change the camera; otherwise with its credentials masked (***)
    live_url: str
    #: how the dashboard plays the live view: ``image`` (MJPEG), ``hls``, or ``none`` (an RTSP address,
    #: or one holding credentials: the page then shows snapshots through forewarn instead)
    live_kind: str
    snapshot_url: str
    #: whether forewarn can grab a snapshot (``GET /api/v1/cameras/{id}/snapshot``)
    has_snapshot: bool
    #: whether the addresses above were masked for you
    masked: bool
    status: str
    created: str
    updated: str


def _shown(row: sql.CameraRow, scope: Scope, tz: ZoneInfo) -> Camera:
    may_edit = scope.can(Action.WRITE_REGISTRY) and scope.allows_region(row.region_code)
    show = (lambda u: u) if may_edit else urls.mask
    masked = not may_edit and (urls.has_credentials(row.live_url) or urls.has_credentials(row.snapshot_url))
    return Camera(
        id=row.id, site_id=row.site_id, site=row.site, enterprise=row.enterprise, region_code=row.region_code,
        name=row.name, live_url=show(row.live_url), live_kind=urls.live_kind(row.live_url),
        snapshot_url=show(row.snapshot_url), has_snapshot=bool(row.snapshot_url), masked=masked, status=row.status,
        created=iso(row.created_ms, tz), updated=iso(row.updated_ms, tz),
    )


def _audited(row: sql.CameraRow) -> dict[str, object]:
    """The camera as the audit log keeps it: addresses masked, always."""
    return {"id": row.id, "site_id": row.site_id, "site": row.site, "name": row.name,
            "live_url": urls.mask(row.live_url), "snapshot_url": urls.mask(row.snapshot_url), "status": row.status}


def _check(name: str | None, live: str | None, snapshot: str | None) -> dict[str, str]:
    """The values, each checked; every mistake at once (400)."""
    problems: list[str] = []
    values: dict[str, str] = {}
    if name is not None:
        text = name.strip()
        if not text:
            problems.append("name: is empty")
        elif len(text) > MAX_NAME or not text.isprintable():
            problems.append(f"name: at most {MAX_NAME} printable characters")
        values["name"] = text
    for column, value, schemes in (("live_url", live, urls.LIVE_SCHEMES),
                                   ("snapshot_url", snapshot, urls.SNAPSHOT_SCHEMES)):
        if value is None:
            continue
        text = value.strip()
        problem = urls.url_problem(text, schemes) if text else None
        if problem:
            problems.append(f"{column}: {problem}")
        values[column] = text
    if problems:
        raise CameraError(400, "; ".join(problems))
    return values


def _reach(scope: Scope, region_code: str, what: str) -> None:
    if not scope.allows_region(region_code):
        raise CameraError(403, f"{what} lies in region {region_code or '(none)'}, outside yours "
                               f"({scope.region_prefix or 'none'}): a city administrator can do it")


def _one(db: sqlite3.Connection, camera_id: int, scope: Scope) -> sql.CameraRow:
    found = sql.camera_rows(db, scope, camera_id=camera_id, status=None)
    if not found:
        raise CameraError(404, f"no camera {camera_id} in your scope")
    return found[0]


def _duplicate(name: str) -> CameraError:
    return CameraError(409, f"the site has a camera named {name!r} already: choose another name")


def list_cameras(db: sqlite3.Connection, scope: Scope, tz: ZoneInfo, *, site_id: int | None = None,
                 status: str | None = "active", limit: int = 1000, offset: int = 0) -> list[Camera]:
    """The cameras in ``scope`` (of one site), as the user may see them."""
    return [_shown(r, scope, tz) for r in sql.camera_rows(db, scope, site_id=site_id, status=status, limit=limit,
                                                          offset=offset)]


def get_camera(db: sqlite3.Connection, camera_id: int, scope: Scope, tz: ZoneInfo) -> Camera:
    return _shown(_one(db, camera_id, scope), scope, tz)


def add_camera(db: sqlite3.Connection, body: CameraBody, scope: Scope, tz: ZoneInfo, *, actor: str, origin: str,
               now_ms: int) -> Camera:
    """Register a camera at a site the user may change."""
    values = _check(body.name, body.live_url, body.snapshot_url)
    if not values.get("live_url") and not values.get("snapshot_url"):
        raise CameraError(400, "give the camera a live_url, a snapshot_url, or both")
    site = sql.site_of(db, body.site_id, scope)
    if site is None:
        raise CameraError(404, f"site_id: no site {body.site_id} in your scope")
    _reach(scope, site[1], f"site {body.site_id}")
    try:
        camera_id = sql.insert_camera(db, body.site_id, values["name"], values.get("live_url", ""),
                                      values.get("snapshot_url", ""), now_ms)
    except sqlite3.IntegrityError:
        raise _duplicate(values["name"]) from None
    row = _one(db, camera_id, scope)
    audit.record(db, actor, "camera.create", "camera", camera_id, None, _audited(row), origin, at_ms=now_ms)
    sql.bump_registry_version(db)
    return _shown(row, scope, tz)


def change_camera(db: sqlite3.Connection, camera_id: int, change: CameraChange, scope: Scope, tz: ZoneInfo, *,
                  actor: str, origin: str, now_ms: int, action: str = "update") -> Camera:
    """Change some of a camera's fields (the user must reach its site)."""
    before = _one(db, camera_id, scope)
    _reach(scope, before.region_code, f"camera {camera_id}")
    values = _check(change.name, change.live_url, change.snapshot_url)
    if change.status is not None:
        values["status"] = change.status
    if not values:
        raise CameraError(400, "nothing to change: send one or more of name, live_url, snapshot_url, status")
    live = values.get("live_url", before.live_url)
    snapshot = values.get("snapshot_url", before.snapshot_url)
    if not live and not snapshot:
        raise CameraError(400, "a camera needs a live_url, a snapshot_url, or both (remove it instead)")
    try:
        sql.update_camera(db, camera_id, values, now_ms)
    except sqlite3.IntegrityError:
        raise _duplicate(values.get("name", before.name)) from None
    after = _one(db, camera_id, scope)
    audit.record(db, actor, f"camera.{action}", "camera", camera_id, _audited(before), _audited(after), origin,
                 at_ms=now_ms)
    sql.bump_registry_version(db)
    return _shown(after, scope, tz)


def remove_camera(db: sqlite3.Connection, camera_id: int, scope: Scope, tz: ZoneInfo, *, actor: str, origin: str,
                  now_ms: int) -> Camera:
    """Retire a camera: no more snapshots nor panel; those it took stay with their alarms."""
    return change_camera(db, camera_id, CameraChange(status="retired"), scope, tz, actor=actor, origin=origin,
                         now_ms=now_ms, action="retire")
