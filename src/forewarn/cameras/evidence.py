"""An alarm's camera snapshots as its evidence is read: by the API, the CLI and the alarm page.

Scoped as the alarm is (:func:`forewarn.alarms.api_queries.alarm_brief`): outside the user's
scope an alarm has no snapshots to show, as it does not exist. Each snapshot says when it was
taken, by which camera, its size and sha256 (so a printed or exported copy can be checked
against the kept file), and its address under the API; a grab that gave nothing says why.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access.scope import Scope
from forewarn.alarms.api_queries import alarm_brief
from forewarn.cameras.snapshots import snapshot_path
from forewarn.store import cameras as sql
from forewarn.times import iso

__all__ = ["Snapshot", "alarm_snapshots", "snapshot_file"]


class Snapshot(msgspec.Struct):
    """One camera's grab for an alarm."""

    id: int
    camera_id: int
    camera: str
    taken: str
    #: how long the camera took to answer (or until it was given up), in ms
    took_ms: int
    #: of the JPEG; empty when there is none
    sha256: str
    size: int
    #: why there is no picture ("did not answer in 5 s"); empty when there is one
    error: str
    #: where the JPEG is served (``GET``; the alarm's scope); empty when there is none
    url: str


def alarm_snapshots(db: sqlite3.Connection, alarm_id: int, scope: Scope, tz: ZoneInfo) -> list[Snapshot] | None:
    """The alarm's snapshots, oldest first; None when the alarm is not in ``scope``."""
    if alarm_brief(db, scope, alarm_id) is None:
        return None
    return [Snapshot(r.id, r.camera_id, r.camera_name, iso(r.taken_ms, tz), r.took_ms, r.sha256, r.size, r.error,
                     f"/api/v1/alarms/{alarm_id}/snapshots/{r.id}" if r.sha256 else "")
            for r in sql.alarm_snapshot_rows(db, alarm_id)]


def snapshot_file(db: sqlite3.Connection, folder: Path, alarm_id: int, snapshot_id: int, scope: Scope
                  ) -> Path | None:
    """The kept JPEG of one snapshot of an alarm in ``scope``, or None."""
    if alarm_brief(db, scope, alarm_id) is None:
        return None
    row = next((r for r in sql.alarm_snapshot_rows(db, alarm_id) if r.id == snapshot_id and r.sha256), None)
    return None if row is None else snapshot_path(folder, alarm_id, row.sha256)
