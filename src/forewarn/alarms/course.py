"""The course of an alarm's episode: its readings from before it began until it cleared.

An alarm that keeps only its triggering reading cannot say how high the gas went nor how
long the leak lasted (the field trial's 5.4-minute leak peaking at 48.2 %LEL kept 46.8). So
an alarm follows its points (``alarms.course``: where its window starts, which points, and
whether its rule watches for low values) and keeps their readings:

- when it fires, the rule's own window and ``evidence_before_s`` before it are copied;
- each later decision on it (a repeat, a higher level) copies that decision's window;
- when the condition clears, the whole course, from the window's start to the clearing
  reading, is copied in the clearing reading's own transaction.

So the evidence is committed with the readings that decided it, and copying costs nothing per
reading, only per decision. Each copy is bounded per point by min/max buckets
(:func:`forewarn.store.series.series`), so a long episode keeps its peak. While the condition
is still active the rest of the course is read from the readings tables, which are never
overwritten, bounded the same way (:func:`live_rows`).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from forewarn.model import Kind
from forewarn.rules.events import RuleEvent
from forewarn.store.series import series

__all__ = ["COURSE_POINTS", "copy_course", "copy_windows", "course_spec", "live_rows", "summary"]

#: the most readings of one point kept (or read) per copy; more are cut into min/max buckets
COURSE_POINTS = 1000
_END = 2**62
_KINDS = frozenset(k.value for k in Kind)


def course_spec(e: RuleEvent, before: str = "") -> str:
    """The alarm's course (JSON) after event ``e``: its start and points merged with ``before``."""
    spec: dict[str, Any] = json.loads(before) if before else {"from": None, "points": [], "low": e.low}
    points = [tuple(p) for p in spec["points"]]
    for mn, code, field, kind, from_ts, _ in e.evidence:
        if (mn, code, field, kind) not in points:
            points.append((mn, code, field, kind))
        spec["from"] = from_ts if spec["from"] is None else min(int(spec["from"]), from_ts)
    spec["points"] = [list(p) for p in points]
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))


def _point(db: sqlite3.Connection, mn: str, code: str, field: str) -> tuple[int, str] | None:
    row = db.execute(
        "SELECT p.id, p.unit FROM points p JOIN devices d ON d.id = p.device_id "
        "WHERE d.mn = ? AND p.code = ? AND p.field = ?", (mn, code, field)).fetchone()
    return None if row is None else (int(row[0]), str(row[1] or ""))


def _copy(db: sqlite3.Connection, alarm_id: int, mn: str, code: str, field: str, kind: str,
          from_ts: int, to_ts: int) -> None:
    found = _point(db, mn, code, field)
    if found is None or kind not in _KINDS:
        return
    rows = series(db, found[0], Kind(kind), from_ts, to_ts, COURSE_POINTS)
    db.executemany(
        "INSERT OR IGNORE INTO alarm_evidence (alarm_id, mn, code, field, kind, ts, value, flag) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(alarm_id, mn, code, field, kind, ts, value, flag) for ts, value, flag in rows],
    )


def copy_windows(db: sqlite3.Connection, alarm_id: int, e: RuleEvent) -> None:
    """The stored readings of each of the event's windows, onto the alarm (once each)."""
    for mn, code, field, kind, from_ts, to_ts in e.evidence:
        _copy(db, alarm_id, mn, code, field, kind, from_ts, to_ts)


def copy_course(db: sqlite3.Connection, alarm_id: int, spec: str, to_ts: int) -> None:
    """The whole course so far (from the window's start to ``to_ts``), onto the alarm."""
    if not spec:
        return
    parsed = json.loads(spec)
    if parsed.get("from") is None:
        return
    for mn, code, field, kind in parsed["points"]:
        _copy(db, alarm_id, mn, code, field, kind, int(parsed["from"]), to_ts)


def live_rows(db: sqlite3.Connection, spec: str, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An active episode's readings after those already copied, read from the readings tables."""
    if not spec:
        return []
    parsed = json.loads(spec)
    out: list[dict[str, Any]] = []
    for mn, code, field, kind in parsed["points"]:
        found = _point(db, mn, code, field)
        if found is None or kind not in _KINDS:
            continue
        mine = [r["ts_ms"] for r in stored if (r["mn"], r["code"], r["field"], r["kind"]) == (mn, code, field, kind)]
        after = max(mine) + 1 if mine else int(parsed["from"] or 0)
        out += [{"mn": mn, "code": code, "field": field, "kind": kind, "ts_ms": ts, "value": value, "flag": flag}
                for ts, value, flag in series(db, found[0], Kind(kind), after, _END, COURSE_POINTS)]
    return out


def summary(db: sqlite3.Connection, alarm: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The episode read from its course: when it began and ended, how long, and its peak.

    The peak is the highest reading of the alarm's own point during the episode (the lowest
    for a rule that watches for low values, such as a tank level too low); for an alarm over
    several points (a site's production and treatment) each point's extremes are given.
    """
    spec = json.loads(alarm["course"]) if alarm.get("course") else {}
    start = int(alarm["first_ts"])
    end = alarm["cleared_ts"] if alarm["condition"] == "cleared" else None
    last = max((r["ts_ms"] for r in rows), default=start)
    upto = int(end) if end is not None else max(last, start)
    points: list[dict[str, Any]] = []
    keys = sorted({(r["mn"], r["code"], r["field"], r["kind"]) for r in rows})
    for mn, code, field, kind in keys:
        mine = [r for r in rows if (r["mn"], r["code"], r["field"], r["kind"]) == (mn, code, field, kind)
                and r["value"] is not None]
        if not mine:
            continue
        top = max(mine, key=lambda r: r["value"])
        bottom = min(mine, key=lambda r: r["value"])
        found = _point(db, mn, code, field)
        points.append({"mn": mn, "code": code, "field": field, "kind": kind, "unit": found[1] if found else "",
                       "readings": len(mine), "max": top["value"], "max_ts_ms": top["ts_ms"],
                       "min": bottom["value"], "min_ts_ms": bottom["ts_ms"]})
    peak = None
    own = [p for p in points if alarm["point"] and f"{p['code']}-{p['field']}" == alarm["point"]
           and p["mn"] == alarm["mn"]]
    if own:
        p, low = own[0], bool(spec.get("low"))
        # the extreme within the episode itself, not in the quiet before it
        during = [r for r in rows if (r["mn"], r["code"], r["field"], r["kind"]) == (p["mn"], p["code"], p["field"],
                                                                                 p["kind"])
                  and r["value"] is not None and start <= r["ts_ms"] <= upto] or [
                      r for r in rows if (r["mn"], r["code"], r["field"]) == (p["mn"], p["code"], p["field"])
                      and r["value"] is not None]
        best = (min if low else max)(during, key=lambda r: r["value"])
        peak = {"mn": p["mn"], "code": p["code"], "field": p["field"], "unit": p["unit"], "value": best["value"],
                "ts_ms": best["ts_ms"], "low": low}
    return {"from_ts_ms": spec.get("from", min((r["ts_ms"] for r in rows), default=start)),
            "start_ts_ms": start, "end_ts_ms": end, "ongoing": end is None,
            "duration_ms": upto - start, "peak": peak, "points": points}
