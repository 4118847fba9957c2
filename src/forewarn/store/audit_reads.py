"""The audit log read back, newest first, filtered: behind GET /api/v1/audit (the writes are
``forewarn.access.audit.record``'s)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

__all__ = ["audit_page", "logged_entities"]


def logged_entities(db: sqlite3.Connection) -> list[str]:
    """Every entity the log holds entries of."""
    return [str(r[0]) for r in db.execute("SELECT DISTINCT entity FROM audit_log")]


def audit_page(db: sqlite3.Connection, *, entity: str | None, entity_id: str | None, actor: str | None,
               from_ms: int | None, to_ms: int | None, limit: int, offset: int) -> tuple[list[tuple[Any, ...]], int]:
    """(id, at ms, actor, action, entity, entity id, origin, before, after) with before and after
    parsed from their JSON, newest first; and how many entries match."""
    where: list[str] = ["1 = 1"]
    params: list[object] = []
    for column, value in (("entity", entity), ("entity_id", entity_id), ("actor", actor)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    for op, moment in ((">=", from_ms), ("<=", to_ms)):
        if moment is not None:
            where.append(f"at_ms {op} ?")
            params.append(moment)
    clause = " AND ".join(where)
    total = int(db.execute(f"SELECT COUNT(*) FROM audit_log WHERE {clause}", params).fetchone()[0])
    rows = db.execute(
        f"SELECT id, at_ms, actor, action, entity, entity_id, origin, before, after FROM audit_log WHERE {clause} "
        "ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
    return [(*row[:7], json.loads(row[7]) if row[7] else None, json.loads(row[8]) if row[8] else None)
            for row in rows], total
