"""The store's side of the screening for doubtful data: the reads the checks need, the findings.

Every read that reaches sites is scoped (:func:`forewarn.access.scope.scoped`): a district
administrator screens and lists only their district. The checks read values flagged N only:
data a device itself flags as maintenance, calibration or fault is already declared doubtful
and is no one's attempt to pass bad data for good.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from forewarn.access.scope import Scope, scoped

__all__ = [
    "FINDING_STATES",
    "ClockRow",
    "FindingRow",
    "ScreenedPoint",
    "clock_rows",
    "decide_finding",
    "finding",
    "finish_run",
    "hourly_means",
    "last_run",
    "list_findings",
    "point_values",
    "save_finding",
    "screened_points",
    "start_run",
]

#: the life of a finding: found, then judged once
FINDING_STATES = ("open", "confirmed", "dismissed")
#: a new finding of the same kind and target that overlaps an earlier one, or starts within
#: this of its end, continues it (yesterday's flat line that goes on today is one finding)
CONTINUES_WITHIN_MS = 2 * 3_600_000
#: the kinds of readings a point's values are screened from, in order of preference: the
#: device's hour data when it sends some (what regulators audit), else minute, else real-time
_KINDS = ("hour", "minute", "rtd")


@dataclass(frozen=True, slots=True)
class ScreenedPoint:
    """A point the screening may judge, with its device and site."""

    point_id: int
    device_id: int
    site_id: int
    mn: str
    code: str
    field: str
    name: str
    quantity: str
    unit: str
    site: str
    longitude: float | None
    latitude: float | None


_POINTS_SQL = (
    "SELECT p.id, d.id, s.id, d.mn, p.code, p.field, p.name, p.quantity, p.unit, s.name, s.longitude, s.latitude "
    "FROM points p JOIN devices d ON d.id = p.device_id JOIN sites s ON s.id = d.site_id "
    "WHERE d.status = 'active' AND s.status != 'retired' AND {scope} ORDER BY s.id, d.id, p.id"
)


def screened_points(db: sqlite3.Connection, scope: Scope) -> list[ScreenedPoint]:
    """Every point of an active device at a site in scope."""
    return [ScreenedPoint(*row) for row in db.execute(*scoped(_POINTS_SQL, scope))]


def point_values(db: sqlite3.Connection, point_id: int, from_ms: int, to_ms: int
                 ) -> tuple[str, list[tuple[int, float]]]:
    """The kind and the N-flagged (ts, value) of one point in ``[from_ms, to_ms)``, from the first
    kind in :data:`_KINDS` that holds any for it."""
    for kind in _KINDS:
        table = f"readings_{kind}"
        if db.execute(f"SELECT 1 FROM {table} WHERE point_id = ? AND ts >= ? AND ts < ? LIMIT 1",
                      (point_id, from_ms, to_ms)).fetchone() is None:
            continue
        rows = db.execute(
            f"SELECT ts, value FROM {table} WHERE point_id = ? AND ts >= ? AND ts < ? AND flag = 'N' "
            "AND value IS NOT NULL ORDER BY ts", (point_id, from_ms, to_ms)).fetchall()
        return kind, [(int(t), float(v)) for t, v in rows]
    return "", []


def hourly_means(db: sqlite3.Connection, point_id: int, from_ms: int, to_ms: int) -> dict[int, float]:
    """Hour start (UTC hours, ms) → mean of one point's N-flagged values, from its preferred kind."""
    for kind in _KINDS:
        rows = db.execute(
            f"SELECT (ts / 3600000) * 3600000 AS h, AVG(value) FROM readings_{kind} WHERE point_id = ? "
            "AND ts >= ? AND ts < ? AND flag = 'N' AND value IS NOT NULL GROUP BY h ORDER BY h",
            (point_id, from_ms, to_ms)).fetchall()
        if rows:
            return {int(h): float(v) for h, v in rows}
    return {}


_CLOCK_SQL = (
    "SELECT c.device_id, c.hour_ms, c.kind, c.packets, c.repeats, c.skew_min_ms, c.skew_max_ms, c.skew_sum_ms "
    "FROM packet_clock c JOIN devices d ON d.id = c.device_id JOIN sites s ON s.id = d.site_id "
    "WHERE c.hour_ms >= ? AND c.hour_ms < ? AND d.status = 'active' AND {scope} ORDER BY c.device_id, c.hour_ms"
)


#: (device id, hour ms, kind, packets, repeats, skew min, skew max, skew sum)
ClockRow = tuple[int, int, str, int, int, int, int, int]


def clock_rows(db: sqlite3.Connection, scope: Scope, from_ms: int, to_ms: int) -> list[ClockRow]:
    """What the handler noted of each device's uploads, per hour of receipt and kind: (device,
    hour, kind, packets, repeats, skew min, max, sum in ms)."""
    return [(int(d), int(h), str(k), int(n), int(r), int(lo), int(hi), int(total))
            for d, h, k, n, r, lo, hi, total in db.execute(*scoped(_CLOCK_SQL, scope, [from_ms, to_ms]))]


# ------------------------------------------------------------------ runs and findings


def start_run(db: sqlite3.Connection, from_ms: int, to_ms: int, *, actor: str, now_ms: int) -> int:
    cur = db.execute("INSERT INTO screening_runs (from_ms, to_ms, started_ms, actor) VALUES (?, ?, ?, ?)",
                     (from_ms, to_ms, now_ms, actor))
    return int(cur.lastrowid or 0)


def finish_run(db: sqlite3.Connection, run_id: int, *, found: int, counts: dict[str, int], now_ms: int) -> None:
    db.execute("UPDATE screening_runs SET finished_ms = ?, found = ?, counts = ? WHERE id = ?",
               (now_ms, found, json.dumps(counts, sort_keys=True), run_id))


def last_run(db: sqlite3.Connection) -> tuple[int, int, int, int | None, str, int] | None:
    """(id, from, to, finished, actor, found) of the newest finished run."""
    row = db.execute("SELECT id, from_ms, to_ms, finished_ms, actor, found FROM screening_runs "
                     "WHERE finished_ms IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]), row[3], str(row[4]), int(row[5]))


def save_finding(db: sqlite3.Connection, *, kind: str, target: str, site_id: int, device_id: int | None,
                 point_id: int | None, start_ms: int, end_ms: int, summary_en: str, summary_zh: str,
                 evidence: dict[str, Any], run_id: int, now_ms: int) -> tuple[int, bool]:
    """Store a finding, or continue the earlier one it overlaps (same kind and target): an open
    one takes the wider window and the new evidence; a judged one is left as judged (the auditor
    has decided on that episode). Returns (id, whether it is new)."""
    earlier = db.execute(
        "SELECT id, state, start_ms, end_ms FROM screening_findings WHERE kind = ? AND target = ? "
        "AND start_ms <= ? AND end_ms >= ? ORDER BY id DESC LIMIT 1",
        (kind, target, end_ms, start_ms - CONTINUES_WITHIN_MS)).fetchone()
    text = json.dumps(evidence, ensure_ascii=False, sort_keys=True)
    if earlier is not None:
        id_, state, a, b = earlier
        if state == "open":
            db.execute("UPDATE screening_findings SET start_ms = ?, end_ms = ?, summary = ?, summary_zh = ?, "
                       "evidence = ?, run_id = ? WHERE id = ?",
                       (min(a, start_ms), max(b, end_ms), summary_en, summary_zh, text, run_id, id_))
        return int(id_), False
    cur = db.execute(
        "INSERT INTO screening_findings (kind, site_id, device_id, point_id, target, start_ms, end_ms, summary, "
        "summary_zh, evidence, state, found_ms, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
        (kind, site_id, device_id, point_id, target, start_ms, end_ms, summary_en, summary_zh, text, now_ms, run_id))
    return int(cur.lastrowid or 0), True


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A stored finding with the names an auditor reads it by."""

    id: int
    kind: str
    state: str
    site_id: int
    site: str
    enterprise: str
    region_code: str | None
    device_id: int | None
    mn: str | None
    point_id: int | None
    point: str | None
    start_ms: int
    end_ms: int
    summary_en: str
    summary_zh: str
    evidence: dict[str, Any]
    found_ms: int
    decided_by: str | None
    decided_ms: int | None
    decision_note: str | None
    audit_mark_id: int | None


_FINDING_COLUMNS = (
    "f.id, f.kind, f.state, f.site_id, s.name, e.name, s.region_code, f.device_id, d.mn, f.point_id, "
    "CASE WHEN p.id IS NULL THEN NULL ELSE p.code || '-' || p.field END, f.start_ms, f.end_ms, f.summary, "
    "f.summary_zh, f.evidence, f.found_ms, f.decided_by, f.decided_ms, f.decision_note, f.audit_mark_id"
)
_FINDING_FROM = (
    "FROM screening_findings f JOIN sites s ON s.id = f.site_id JOIN enterprises e ON e.id = s.enterprise_id "
    "LEFT JOIN devices d ON d.id = f.device_id LEFT JOIN points p ON p.id = f.point_id "
)


def _row(r: Sequence[Any]) -> FindingRow:
    values = list(r)
    values[15] = json.loads(values[15])
    return FindingRow(*values)


def list_findings(db: sqlite3.Connection, scope: Scope, *, states: Iterable[str] = (), kinds: Iterable[str] = (),
                  site_id: int | None = None, from_ms: int | None = None, to_ms: int | None = None,
                  limit: int = 200, offset: int = 0) -> tuple[int, list[FindingRow]]:
    """(how many match, one page of them, newest window first), within ``scope``."""
    where = ["{scope}"]
    params: list[object] = []
    states, kinds = list(states), list(kinds)
    if states:
        where.append(f"f.state IN ({', '.join('?' * len(states))})")
        params += states
    if kinds:
        where.append(f"f.kind IN ({', '.join('?' * len(kinds))})")
        params += kinds
    if site_id is not None:
        where.append("f.site_id = ?")
        params.append(site_id)
    if from_ms is not None:
        where.append("f.end_ms > ?")
        params.append(from_ms)
    if to_ms is not None:
        where.append("f.start_ms < ?")
        params.append(to_ms)
    clause = " AND ".join(where)
    total = db.execute(*scoped(f"SELECT COUNT(*) {_FINDING_FROM} WHERE {clause}", scope, params)).fetchone()[0]
    rows = db.execute(*scoped(
        f"SELECT {_FINDING_COLUMNS} {_FINDING_FROM} WHERE {clause} ORDER BY f.start_ms DESC, f.id DESC "
        "LIMIT ? OFFSET ?", scope, [*params, limit, offset])).fetchall()
    return int(total), [_row(r) for r in rows]


def finding(db: sqlite3.Connection, finding_id: int, scope: Scope) -> FindingRow | None:
    """One finding, None when it does not exist or is outside ``scope``."""
    row = db.execute(*scoped(f"SELECT {_FINDING_COLUMNS} {_FINDING_FROM} WHERE f.id = ? AND {{scope}}",
                             scope, [finding_id])).fetchone()
    return None if row is None else _row(row)


def decide_finding(db: sqlite3.Connection, finding_id: int, *, state: str, actor: str, note: str, now_ms: int,
                   audit_mark_id: int | None = None) -> bool:
    """Judge an open finding (in the caller's transaction); False when it was no longer open."""
    cur = db.execute(
        "UPDATE screening_findings SET state = ?, decided_by = ?, decided_ms = ?, decision_note = ?, "
        "audit_mark_id = ? WHERE id = ? AND state = 'open'",
        (state, actor, now_ms, note, audit_mark_id, finding_id))
    return cur.rowcount == 1
