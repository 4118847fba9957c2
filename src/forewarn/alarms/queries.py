"""Reading alarms back: lists with filters, one alarm with its steps, evidence and course."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from forewarn.alarms.course import live_rows, summary

__all__ = ["alarm_detail", "alarm_summary", "list_alarms"]

_COLUMNS = ("id", "rule_id", "rule_version", "subject", "level", "state", "condition", "live",
            "silenced", "escalated", "overdue", "mn", "site_id", "site", "enterprise", "region_code",
            "region_name", "point", "title_zh", "title_en", "explanation_zh", "explanation_en",
            "first_ts", "last_ts", "cleared_ts", "repeats", "assignee", "created_ms", "updated_ms",
            "acked_ms", "closed_ms", "group_id", "incident")


def list_alarms(db: sqlite3.Connection, *, state: str | None = None, level: int | None = None,
                site_id: int | None = None, open_only: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(_COLUMNS)} FROM alarms WHERE 1 = 1"
    args: list[Any] = []
    if state is not None:
        sql += " AND state = ?"
        args.append(state)
    if level is not None:
        sql += " AND level = ?"
        args.append(level)
    if site_id is not None:
        sql += " AND site_id = ?"
        args.append(site_id)
    if open_only:
        sql += " AND state != 'closed'"
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit)
    return [dict(zip(_COLUMNS, row, strict=True)) for row in db.execute(sql, args)]


def alarm_detail(db: sqlite3.Connection, alarm_id: int) -> dict[str, Any] | None:
    """One alarm with its steps, its evidence and its course.

    ``evidence`` is the episode's readings: from before it began until it cleared (copied onto
    the alarm), and while it is still active, what the readings tables hold since. ``course``
    reads the episode from them: ``start_ts_ms``, ``end_ts_ms`` (None while ongoing),
    ``duration_ms``, the ``peak`` of the alarm's own point, each point's extremes, and
    ``from_ts_ms``, where the evidence begins (a playback opens there). ``group`` is the storm
    the alarm belongs to, if any: its id, cause and members.
    """
    found = list_alarms_by_id(db, alarm_id)
    if found is None:
        return None
    spec = db.execute("SELECT course FROM alarms WHERE id = ?", (alarm_id,)).fetchone()[0]
    found["steps"] = [
        {"step": s, "actor": a, "at_ms": t, "note": n, "data": json.loads(d)}
        for s, a, t, n, d in db.execute(
            "SELECT step, actor, at_ms, note, data FROM alarm_steps WHERE alarm_id = ? ORDER BY id", (alarm_id,)
        )
    ]
    found["evidence"] = [
        {"mn": m, "code": c, "field": f, "kind": k, "ts_ms": ts, "value": v, "flag": fl}
        for m, c, f, k, ts, v, fl in db.execute(
            "SELECT mn, code, field, kind, ts, value, flag FROM alarm_evidence WHERE alarm_id = ? "
            "ORDER BY ts, code, field", (alarm_id,)
        )
    ]
    if found["condition"] == "active":
        found["evidence"] = sorted([*found["evidence"], *live_rows(db, spec, found["evidence"])],
                                   key=lambda r: (r["ts_ms"], r["code"], r["field"]))
    found["course"] = summary(db, {**found, "course": spec}, found["evidence"])
    found["group"] = _group(db, found["group_id"])
    return found


def _group(db: sqlite3.Connection, group_id: int | None) -> dict[str, Any] | None:
    if group_id is None:
        return None
    # no member counts here: they would count alarms outside the reader's scope (list the
    # alarms with the group's id instead, which is scoped)
    key, cause, first, last = db.execute(
        "SELECT key, cause_alarm_id, first_ms, last_ms FROM alarm_groups WHERE id = ?", (group_id,)).fetchone()
    return {"id": group_id, "cause": "platform_restart" if key.startswith("restart:") else "offline_storm",
            "cause_alarm_id": cause, "first_ms": first, "last_ms": last}


def list_alarms_by_id(db: sqlite3.Connection, alarm_id: int) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {', '.join(_COLUMNS)} FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
    return None if row is None else dict(zip(_COLUMNS, row, strict=True))


def alarm_summary(db: sqlite3.Connection) -> dict[str, int]:
    """Counts for status: open, by state, overdue, escalated."""
    out = {f"alarms_{state}": n for state, n in db.execute("SELECT state, COUNT(*) FROM alarms GROUP BY state")}
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(overdue), 0), COALESCE(SUM(escalated), 0) FROM alarms WHERE state != 'closed'"
    ).fetchone()
    out.update({"alarms_open": row[0], "alarms_overdue": row[1], "alarms_escalated": row[2]})
    pending, given_up = db.execute(
        "SELECT COALESCE(SUM(delivered_ms IS NULL AND given_up_ms IS NULL), 0), "
        "COALESCE(SUM(given_up_ms IS NOT NULL), 0) FROM outbox"
    ).fetchone()
    out.update({"notices_pending": pending, "notices_given_up": given_up})
    return out
