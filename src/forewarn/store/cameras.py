"""The SQL of cameras and of the snapshots taken for alarms: functions of a sqlite3 connection.

Reads that show cameras to a user carry the user's scope (the camera's site); the snapshot
taker's reads (which alarms just fired at a site with cameras) are the platform's own.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from forewarn.access.scope import Scope, scoped

__all__ = [
    "CameraRow",
    "FiredAt",
    "SnapshotRow",
    "alarm_snapshot_rows",
    "bump_registry_version",
    "camera_rows",
    "fired_since",
    "has_http_snapshots",
    "insert_camera",
    "insert_snapshot",
    "last_step_id",
    "live_urls",
    "site_by_names",
    "site_of",
    "update_camera",
]


@dataclass(frozen=True, slots=True)
class CameraRow:
    id: int
    site_id: int
    site: str
    enterprise: str
    enterprise_id: int
    region_code: str
    name: str
    live_url: str
    snapshot_url: str
    status: str
    created_ms: int
    updated_ms: int


_CAMERA_SQL = (
    "SELECT c.id, c.site_id, s.name, e.name, s.enterprise_id, s.region_code, c.name, c.live_url, c.snapshot_url, "
    "c.status, c.created_ms, c.updated_ms FROM cameras c JOIN sites s ON s.id = c.site_id "
    "JOIN enterprises e ON e.id = s.enterprise_id WHERE {scope}"
)


def camera_rows(db: sqlite3.Connection, scope: Scope, *, camera_id: int | None = None, site_id: int | None = None,
                status: str | None = "active", limit: int = 1000, offset: int = 0) -> list[CameraRow]:
    """Cameras in ``scope``, by id (``camera_id``), at one site, or all; ``status`` None: any."""
    sql, args = _CAMERA_SQL, []
    for column, value in (("c.id", camera_id), ("c.site_id", site_id), ("c.status", status)):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    sql += " ORDER BY c.site_id, c.id LIMIT ? OFFSET ?"
    return [CameraRow(*row) for row in db.execute(*scoped(sql, scope, [*args, limit, offset]))]


def site_of(db: sqlite3.Connection, site_id: int, scope: Scope) -> tuple[str, str] | None:
    """(name, region code) of a site in ``scope``, or None."""
    row = db.execute(*scoped("SELECT s.name, s.region_code FROM sites s WHERE s.id = ? AND {scope}", scope,
                             [site_id])).fetchone()
    return None if row is None else (str(row[0]), str(row[1] or ""))


def site_by_names(db: sqlite3.Connection, enterprise: str, site: str) -> int | None:
    """The id of the site ``enterprise``/``site`` (as registry sheets name sites), or None."""
    row = db.execute("SELECT s.id FROM sites s JOIN enterprises e ON e.id = s.enterprise_id WHERE e.name = ? "
                     "AND s.name = ?", (enterprise, site)).fetchone()
    return None if row is None else int(row[0])


def insert_camera(db: sqlite3.Connection, site_id: int, name: str, live_url: str, snapshot_url: str,
                  now_ms: int) -> int:
    cur = db.execute(
        "INSERT INTO cameras (site_id, name, live_url, snapshot_url, status, created_ms, updated_ms) "
        "VALUES (?, ?, ?, ?, 'active', ?, ?)", (site_id, name, live_url, snapshot_url, now_ms, now_ms))
    return int(cur.lastrowid or 0)


_MUTABLE = frozenset({"name", "live_url", "snapshot_url", "status"})


def update_camera(db: sqlite3.Connection, camera_id: int, values: dict[str, str], now_ms: int) -> None:
    unknown = values.keys() - _MUTABLE
    if unknown:
        raise ValueError(f"not a camera column: {sorted(unknown)}")
    sets = "".join(f"{c} = ?, " for c in values)
    db.execute(f"UPDATE cameras SET {sets}updated_ms = ? WHERE id = ?", [*values.values(), now_ms, camera_id])


def live_urls(db: sqlite3.Connection) -> list[str]:
    """The live-view addresses of every active camera (the platform's own read, for its CSP)."""
    return [str(r[0]) for r in db.execute("SELECT DISTINCT live_url FROM cameras WHERE status = 'active' "
                                          "AND live_url != ''")]


def has_http_snapshots(db: sqlite3.Connection) -> bool:
    """Whether an active camera has an http(s) snapshot address (the taker then prepares its client)."""
    return db.execute("SELECT 1 FROM cameras WHERE status = 'active' AND snapshot_url LIKE 'http%' LIMIT 1"
                      ).fetchone() is not None


def bump_registry_version(db: sqlite3.Connection) -> None:
    """Running servers reload their registry view (the cameras' live-view hosts for the CSP too)."""
    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'registry_version'")


# ------------------------------------------------------------------ the snapshot taker


@dataclass(frozen=True, slots=True)
class FiredAt:
    """A 'fired' step at a site with cameras: one alarm that wants snapshots."""

    step_id: int
    alarm_id: int
    live: bool
    cameras: tuple[tuple[int, str, str], ...]  # (camera id, name, snapshot url)


def last_step_id(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM alarm_steps").fetchone()[0])


def fired_since(db: sqlite3.Connection, after_step_id: int, limit: int = 500) -> tuple[int, list[FiredAt]]:
    """Alarms fired after step ``after_step_id`` at sites with an active camera that has a
    snapshot address; and the newest step id looked at (the next call's ``after_step_id``)."""
    rows = db.execute(
        "SELECT st.id, st.step, st.alarm_id, a.live, a.site_id FROM alarm_steps st JOIN alarms a ON a.id = st.alarm_id "
        "WHERE st.id > ? ORDER BY st.id LIMIT ?", (after_step_id, limit)).fetchall()
    if not rows:
        return after_step_id, []
    newest = int(rows[-1][0])
    sites = {int(r[4]) for r in rows if r[1] == "fired" and r[4] is not None}
    by_site: dict[int, list[tuple[int, str, str]]] = {}
    if sites:
        marks = ", ".join("?" for _ in sites)
        for camera_id, site_id, name, url in db.execute(
                f"SELECT id, site_id, name, snapshot_url FROM cameras WHERE site_id IN ({marks}) "
                "AND status = 'active' AND snapshot_url != '' ORDER BY id", list(sites)):
            by_site.setdefault(int(site_id), []).append((int(camera_id), str(name), str(url)))
    found = [FiredAt(int(step_id), int(alarm_id), bool(live), tuple(by_site[int(site_id)]))
             for step_id, step, alarm_id, live, site_id in rows
             if step == "fired" and site_id is not None and int(site_id) in by_site]
    return newest, found


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    id: int
    alarm_id: int
    camera_id: int
    camera_name: str
    taken_ms: int
    took_ms: int
    sha256: str
    size: int
    error: str


def insert_snapshot(db: sqlite3.Connection, row: SnapshotRow) -> int:
    cur = db.execute(
        "INSERT INTO alarm_snapshots (alarm_id, camera_id, camera_name, taken_ms, took_ms, sha256, size, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (row.alarm_id, row.camera_id, row.camera_name, row.taken_ms, row.took_ms, row.sha256, row.size, row.error))
    return int(cur.lastrowid or 0)


def alarm_snapshot_rows(db: sqlite3.Connection, alarm_id: int) -> list[SnapshotRow]:
    """The snapshots of one alarm, oldest first (the caller checked the alarm's scope)."""
    return [SnapshotRow(*row) for row in db.execute(
        "SELECT id, alarm_id, camera_id, camera_name, taken_ms, took_ms, sha256, size, error FROM alarm_snapshots "
        "WHERE alarm_id = ? ORDER BY id", (alarm_id,))]
