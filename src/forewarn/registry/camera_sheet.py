"""A cameras sheet in a registry import: each row adds a camera to a site or changes it.

Columns ``enterprise, site, camera, live_url, snapshot_url`` (read by
:mod:`forewarn.registry.files`). A camera is known by its site and name: a row names a new
camera, or changes the addresses of the one of that name. Rows are applied with the camera
registry's own use cases (:mod:`forewarn.cameras.registry`), so an import checks, scopes and
audits a camera exactly as the API and ``forewarn cameras`` do; they run last in the import's
transaction, so a sheet may add a site and its cameras together. A camera the sheet does not
list stays as it is (removing is done one by one, not by leaving a row out).
"""

from __future__ import annotations

import sqlite3
from zoneinfo import ZoneInfo

from forewarn.access.scope import Scope
from forewarn.cameras.registry import CameraBody, CameraChange, CameraError, add_camera, change_camera
from forewarn.registry.files import Finding, RegistrySheets
from forewarn.store import cameras as sql

__all__ = ["apply_cameras"]


def apply_cameras(db: sqlite3.Connection, sheets: RegistrySheets, scope: Scope, *, actor: str, origin: str,
                  now_ms: int) -> tuple[int, list[Finding], int]:
    """Apply the sheets' camera rows; (cameras added or changed, findings, the status to answer)."""
    tz = ZoneInfo("UTC")  # the cameras' answers are not shown: an import answers its counts
    findings: list[Finding] = []
    changed, outside = 0, 0
    for row in sheets.cameras:
        key = ("camera", row.enterprise, row.site, row.camera)
        site_id = sql.site_by_names(db, row.enterprise, row.site)
        if site_id is None or not sql.site_of(db, site_id, scope):
            findings.append(sheets.finding(key, "site", f"no site {row.enterprise}/{row.site} in your scope: add "
                                                        "it with a devices sheet first"))
            continue
        found = [c for c in sql.camera_rows(db, scope, site_id=site_id) if c.name == row.camera]
        try:
            if not found:
                add_camera(db, CameraBody(site_id=site_id, name=row.camera, live_url=row.live_url,
                                          snapshot_url=row.snapshot_url), scope, tz, actor=actor, origin=origin,
                           now_ms=now_ms)
                changed += 1
            elif (found[0].live_url, found[0].snapshot_url) != (row.live_url, row.snapshot_url):
                change_camera(db, found[0].id, CameraChange(live_url=row.live_url, snapshot_url=row.snapshot_url),
                              scope, tz, actor=actor, origin=origin, now_ms=now_ms)
                changed += 1
        except CameraError as exc:
            outside += exc.status == 403
            column = next((c for c in ("live_url", "snapshot_url", "camera") if exc.message.startswith(c)), "site")
            findings.append(sheets.finding(key, column, exc.message))
    return changed, findings, 403 if outside else 400
