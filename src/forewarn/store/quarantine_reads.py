"""The quarantine's queries behind its HTTP endpoints (the writes of ingest and claims are the
store's own): MNs with packets, one MN's packets, whether an MN is known, its refusals, discard."""

from __future__ import annotations

import sqlite3
from typing import Any

__all__ = ["discard", "is_registered", "mn_packets", "mns_in_quarantine", "quarantined_any", "refusal_counts"]


def mns_in_quarantine(db: sqlite3.Connection, limit: int, offset: int) -> tuple[list[tuple[Any, ...]], int]:
    """(mn, first ms, last ms, packets, last peer, refused reason, registered) per MN, the most
    recently heard first; and how many MNs in all."""
    rows = db.execute(
        "SELECT q.mn, MIN(q.received_ms), MAX(q.received_ms), COUNT(*), "
        "(SELECT peer FROM quarantine q2 WHERE q2.mn = q.mn ORDER BY id DESC LIMIT 1), MAX(q.refused), "
        "EXISTS (SELECT 1 FROM devices d WHERE d.mn = q.mn) "
        "FROM quarantine q GROUP BY q.mn ORDER BY MAX(q.received_ms) DESC, q.mn LIMIT ? OFFSET ?", (limit, offset),
    ).fetchall()
    return rows, int(db.execute("SELECT COUNT(DISTINCT mn) FROM quarantine").fetchone()[0])


def mn_packets(db: sqlite3.Connection, mn: str, limit: int, offset: int) -> tuple[list[tuple[Any, ...]], int]:
    """(id, received ms, peer, refused, raw, format) of one MN's packets, oldest first; and how many."""
    total = int(db.execute("SELECT COUNT(*) FROM quarantine WHERE mn = ?", (mn,)).fetchone()[0])
    rows = db.execute("SELECT id, received_ms, peer, refused, raw, format FROM quarantine WHERE mn = ? ORDER BY id "
                      "LIMIT ? OFFSET ?", (mn, limit, offset)).fetchall() if total else []
    return rows, total


def is_registered(db: sqlite3.Connection, mn: str) -> bool:
    return db.execute("SELECT 1 FROM devices WHERE mn = ?", (mn,)).fetchone() is not None


def quarantined_any(db: sqlite3.Connection, mn: str) -> bool:
    return db.execute("SELECT 1 FROM quarantine WHERE mn = ? LIMIT 1", (mn,)).fetchone() is not None


def refusal_counts(db: sqlite3.Connection, mn: str) -> dict[str, int]:
    """Why the MN's packets still in quarantine stay there ('' for those never judged), and how many."""
    return {str(reason): int(n) for reason, n in db.execute(
        "SELECT COALESCE(refused, ''), COUNT(*) FROM quarantine WHERE mn = ? GROUP BY 1", (mn,))}


def discard(db: sqlite3.Connection, mn: str) -> tuple[int, int, int] | None:
    """Delete the MN's packets; (first ms, last ms, count) of what was there, None if nothing."""
    first, last, count = db.execute(
        "SELECT MIN(received_ms), MAX(received_ms), COUNT(*) FROM quarantine WHERE mn = ?", (mn,)).fetchone()
    if not count:
        return None
    db.execute("DELETE FROM quarantine WHERE mn = ?", (mn,))
    return int(first), int(last), int(count)
