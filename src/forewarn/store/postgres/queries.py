"""What the platform reads back from PostgreSQL: readings, latest values, quarantine, status,
rule state. The same questions and answers as the SQLite store's (same rows, same order:
the database's collation should be C or C.UTF-8, which sorts text as SQLite does)."""

from __future__ import annotations

from typing import Any

import psycopg

from forewarn.model import Kind
from forewarn.online import online_sql
from forewarn.store.base import ReadingRecord, UnknownDevice
from forewarn.store.status_reads import NOT_PACKETS

__all__ = [
    "counters", "last_seen", "latest", "quarantine_size", "quarantined", "quarantined_messages", "quarantined_mns",
    "readings", "rule_states", "status", "unknown_devices",
]

Conn = psycopg.Connection[Any]

_TABLE = {kind: f"readings_{kind.value}" for kind in Kind}


def readings(conn: Conn, mn: str, kind: Kind, code: str | None, from_ms: int | None,
             to_ms: int | None) -> list[ReadingRecord]:
    sql = (
        f"SELECT p.code, p.field, r.ts, r.value, r.flag FROM points p "
        f"JOIN devices d ON d.id = p.device_id JOIN {_TABLE[kind]} r ON r.point_id = p.id "
        "WHERE d.mn = %s AND r.ts >= %s AND r.ts <= %s"
    )
    args: list[object] = [mn, from_ms if from_ms is not None else -(2**62), to_ms if to_ms is not None else 2**62]
    if code is not None:
        sql += " AND p.code = %s"
        args.append(code)
    sql += " ORDER BY r.ts, p.code, p.field"
    return [ReadingRecord(mn, c, f, kind, ts, v, fl) for c, f, ts, v, fl in conn.execute(sql, args).fetchall()]


def latest(conn: Conn, kind: Kind, mn: str | None) -> list[ReadingRecord]:
    """The newest reading of every point: one backward index probe per point."""
    sql = (
        "SELECT d.mn, p.code, p.field, r.ts, r.value, r.flag FROM points p "
        "JOIN devices d ON d.id = p.device_id "
        f"CROSS JOIN LATERAL (SELECT ts, value, flag FROM {_TABLE[kind]} x WHERE x.point_id = p.id "
        "ORDER BY ts DESC LIMIT 1) r"
    )
    args: tuple[str, ...] = ()
    if mn is not None:
        sql += " WHERE d.mn = %s"
        args = (mn,)
    sql += " ORDER BY d.mn, p.code, p.field"
    return [ReadingRecord(m, c, f, kind, ts, v, fl) for m, c, f, ts, v, fl in conn.execute(sql, args).fetchall()]


def unknown_devices(conn: Conn) -> list[UnknownDevice]:
    rows = conn.execute(
        "SELECT mn, MIN(received_ms), MAX(received_ms), COUNT(*), "
        "(SELECT peer FROM quarantine q2 WHERE q2.mn = q.mn ORDER BY id DESC LIMIT 1), "
        "MAX(refused) FROM quarantine q GROUP BY mn ORDER BY MAX(received_ms) DESC"
    ).fetchall()
    return [UnknownDevice(mn, int(a), int(b), int(n), peer, refused) for mn, a, b, n, peer, refused in rows]


def quarantined_mns(conn: Conn) -> set[str]:
    return {row[0] for row in conn.execute("SELECT DISTINCT mn FROM quarantine").fetchall()}


def quarantine_size(conn: Conn) -> int:
    row = conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()
    return int(row[0]) if row else 0


def quarantined(conn: Conn, mn: str) -> list[tuple[int, int, bytes, bool]]:
    rows = conn.execute(
        "SELECT id, received_ms, raw, crlf FROM quarantine WHERE mn = %s AND format = 'hj212' ORDER BY id", (mn,)
    ).fetchall()
    return [(int(i), int(ms), bytes(raw), bool(crlf)) for i, ms, raw, crlf in rows]


def quarantined_messages(conn: Conn, mn: str) -> list[tuple[int, int, bytes, str]]:
    rows = conn.execute(
        "SELECT id, received_ms, raw, format FROM quarantine WHERE mn = %s AND format != 'hj212' ORDER BY id", (mn,)
    ).fetchall()
    return [(int(i), int(ms), bytes(raw), str(fmt)) for i, ms, raw, fmt in rows]


def counters(conn: Conn) -> dict[str, int]:
    return {str(name): int(value) for name, value in conn.execute("SELECT name, value FROM counters").fetchall()}


def last_seen(conn: Conn) -> dict[int, int]:
    return {int(d): int(ms) for d, ms in conn.execute("SELECT device_id, last_ms FROM device_activity").fetchall()}


def rule_states(conn: Conn) -> dict[tuple[str, str], str]:
    rows = conn.execute("SELECT rule_id, subject, state FROM rule_state").fetchall()
    return {(r, s): state for r, s, state in rows}


def _one(conn: Conn, sql: str) -> int:
    row = conn.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def status(conn: Conn, now_ms: int, offline_after_intervals: float) -> dict[str, object]:
    """forewarn.store.status_reads.platform_status's figures, read from PostgreSQL."""
    devices = _one(conn, "SELECT COUNT(*) FROM devices WHERE status = 'active'")
    online = _one(
        conn,
        "SELECT COUNT(*) FROM devices d JOIN device_activity a ON a.device_id = d.id WHERE d.status = 'active' AND "
        + online_sql("a.last_ms", "d.interval_s", now_ms, offline_after_intervals),
    )
    rejections = {
        reason: {"count": int(count), "last_mn": mn, "last_detail": detail}
        for reason, count, mn, detail in conn.execute(
            "SELECT reason, count, last_mn, last_detail FROM rejections ORDER BY count DESC"
        ).fetchall()
    }
    quirks = {str(q): int(n) for q, n in conn.execute(
        "SELECT quirk, SUM(count) FROM quirk_usage GROUP BY quirk").fetchall()}
    by_device: dict[str, dict[str, int]] = {}
    for mn, quirk, count in conn.execute(
        "SELECT d.mn, q.quirk, q.count FROM quirk_usage q JOIN devices d ON d.id = q.device_id "
        "ORDER BY SUM(q.count) OVER (PARTITION BY q.device_id) DESC, d.mn, q.count DESC, q.quirk"
    ).fetchall():
        by_device.setdefault(mn, {})[quirk] = int(count)
    unknown = conn.execute("SELECT COUNT(DISTINCT mn), COUNT(*) FROM quarantine").fetchone() or (0, 0)
    discovered = _one(conn, "SELECT COUNT(*) FROM points WHERE discovered = 1")
    totals = counters(conn)
    return {
        "devices_registered": devices,
        "devices_online": online,
        "devices_offline": devices - online,
        "readings_stored": totals.get("readings_stored", 0),
        "packets_accepted": totals.get("packets_accepted", 0),
        "packets_rejected": sum(int(r["count"]) for reason, r in rejections.items() if reason not in NOT_PACKETS),
        "values_rejected": int(rejections.get("bad_value", {}).get("count", 0)),
        "rejections": rejections,
        "quirks_tolerated": quirks,
        "quirks_by_device": by_device,
        "unknown_devices": int(unknown[0]),
        "quarantined_packets": int(unknown[1]),
        "points_discovered": discovered,
    }
