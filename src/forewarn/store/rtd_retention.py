"""Deleting old real-time rows in small pieces (retention), as functions of a sqlite3 connection.

Real-time data is the bulk of the database (a row per reading); its minutes, hours, days and
months (``aggregates``) and the devices' own minute/hour/day data are small and kept. Rows are
deleted per point through the ``(point_id, ts)`` key, a bounded number at a time, so that one
piece is a short transaction between the writer's commits of device data.
"""

from __future__ import annotations

import sqlite3

__all__ = ["delete_before", "oldest_queued_minute", "point_ids_after", "retained_from", "set_retained_from"]

#: meta key: the oldest time whose real-time data is complete (everything before may be deleted)
RETAINED_FROM = "rtd_retained_from_ms"


def retained_from(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (RETAINED_FROM,)).fetchone()
    return int(row[0]) if row else 0


def set_retained_from(db: sqlite3.Connection, ms: int) -> None:
    """Raise the mark (never lowers it): from now on nothing before it is computed from raw data again."""
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
        "value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))", (RETAINED_FROM, str(ms)),
    )


def oldest_queued_minute(db: sqlite3.Connection) -> int | None:
    """The start of the oldest range still waiting to be computed from raw data (None: none)."""
    row = db.execute("SELECT MIN(start_ms) FROM aggregate_dirty WHERE level = 'minute'").fetchone()
    return None if row[0] is None else int(row[0])


def point_ids_after(db: sqlite3.Connection, after_id: int, limit: int) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM points WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))]


def delete_before(db: sqlite3.Connection, point_id: int, before_ms: int, max_rows: int) -> tuple[int, bool]:
    """Delete at most about ``max_rows`` of the point's real-time rows older than ``before_ms``;
    (rows deleted, whether older ones are left)."""
    row = db.execute(
        "SELECT ts FROM readings_rtd WHERE point_id = ? AND ts < ? ORDER BY ts LIMIT 1 OFFSET ?",
        (point_id, before_ms, max_rows),
    ).fetchone()
    bound = before_ms if row is None else int(row[0])
    cur = db.execute("DELETE FROM readings_rtd WHERE point_id = ? AND ts < ?", (point_id, bound))
    return max(cur.rowcount, 0), row is not None
