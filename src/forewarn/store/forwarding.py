"""The forwarding outbox's queries (see migration 0022: triggers fill it as readings are stored).

``sync_rules`` says which devices' factors each target takes, from the registry as it is now;
the senders read their rows in order (``pending``), and delete them once the target has
answered (``delivered``); ``status`` is what the CLI, the API and the dashboard show.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from forewarn.forward.config import Target
from forewarn.forward.encode import OutboxRow

__all__ = ["TargetState", "delivered", "note_error", "pending", "status", "sync_rules"]


def sync_rules(db: sqlite3.Connection, targets: Iterable[Target]) -> int:
    """Rebuild forward_rules for ``targets`` (in the caller's transaction); rows written.
    Outbox rows of targets no longer configured are dropped."""
    targets = list(targets)
    db.execute("DELETE FROM forward_rules")
    db.execute(f"DELETE FROM forward_outbox WHERE target NOT IN ({','.join('?' * len(targets))})",
               [t.name for t in targets])
    written = 0
    for t in targets:
        where: list[str] = ["d.status != 'retired'"]
        args: list[object] = []
        chosen = []
        if t.regions:
            chosen.append("(" + " OR ".join("s.region_code LIKE ?" for _ in t.regions) + ")")
            args += [_prefix(code) + "%" for code in t.regions]
        if t.sites:
            chosen.append(f"s.id IN ({','.join('?' * len(t.sites))})")
            args += list(t.sites)
        if t.mns:
            chosen.append(f"d.mn IN ({','.join('?' * len(t.mns))})")
            args += list(t.mns)
        if chosen:
            where.append("(" + " OR ".join(chosen) + ")")
        codes = t.factors or ("*",)
        kinds = tuple(k.value for k in t.kinds) or ("*",)
        devices = [row[0] for row in db.execute(
            f"SELECT d.id FROM devices d JOIN sites s ON s.id = d.site_id WHERE {' AND '.join(where)}", args)]
        db.executemany("INSERT OR IGNORE INTO forward_rules (target, device_id, code, kind) VALUES (?, ?, ?, ?)",
                       [(t.name, d, c, k) for d in devices for c in codes for k in kinds])
        written += len(devices) * len(codes) * len(kinds)
    return written


def _prefix(code: str) -> str:
    """A region code's prefix shared by everything under it (451200 -> 4512, 450000 -> 45)."""
    trimmed = code.rstrip("0")
    return trimmed if len(trimmed) % 2 == 0 else trimmed + "0"


def pending(db: sqlite3.Connection, target: str, after_id: int, limit: int) -> list[OutboxRow]:
    """The target's next rows in the order they were stored (so each device's order is kept)."""
    rows = db.execute(
        "SELECT o.id, o.device_id, d.mn, o.kind, o.ts, o.code, o.field, o.value, o.flag FROM forward_outbox o "
        "JOIN devices d ON d.id = o.device_id WHERE o.target = ? AND o.id > ? ORDER BY o.id LIMIT ?",
        (target, after_id, limit))
    return [OutboxRow(*row) for row in rows]


def delivered(db: sqlite3.Connection, target: str, upto_id: int, frames: int, values: int, last_ts: int,
              now_ms: int) -> None:
    """The target answered for everything up to ``upto_id``: those rows leave the outbox."""
    db.execute("DELETE FROM forward_outbox WHERE target = ? AND id <= ?", (target, upto_id))
    db.execute(
        "INSERT INTO forward_state (target, delivered, frames, last_sent_ms, last_ts) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (target) DO UPDATE SET delivered = delivered + excluded.delivered, "
        "frames = frames + excluded.frames, last_sent_ms = excluded.last_sent_ms, "
        "last_ts = MAX(COALESCE(last_ts, 0), excluded.last_ts)",
        (target, values, frames, now_ms, last_ts))


def note_error(db: sqlite3.Connection, target: str, error: str, now_ms: int) -> None:
    db.execute(
        "INSERT INTO forward_state (target, last_error, error_ms) VALUES (?, ?, ?) "
        "ON CONFLICT (target) DO UPDATE SET last_error = excluded.last_error, error_ms = excluded.error_ms",
        (target, error[:500], now_ms))


@dataclass(frozen=True, slots=True)
class TargetState:
    target: str
    backlog: int
    oldest_ts: int | None
    delivered: int
    frames: int
    last_sent_ms: int | None
    last_error: str
    error_ms: int | None


def status(db: sqlite3.Connection, targets: Iterable[str]) -> list[TargetState]:
    out = []
    for name in list(targets):
        backlog, oldest = db.execute("SELECT COUNT(*), MIN(ts) FROM forward_outbox WHERE target = ?",
                                     (name,)).fetchone()
        row = db.execute("SELECT delivered, frames, last_sent_ms, last_error, error_ms FROM forward_state "
                         "WHERE target = ?", (name,)).fetchone() or (0, 0, None, "", None)
        out.append(TargetState(name, int(backlog), oldest, int(row[0]), int(row[1]), row[2], str(row[3]), row[4]))
    return out
