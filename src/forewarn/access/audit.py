"""The audit log: every write, who made it, when, and the entity before and after.

``before`` and ``after`` are JSON objects (``None`` for a creation or a deletion), written with
``ensure_ascii=False`` so that Chinese names stay readable. Secrets (password hashes, tokens)
never go in: callers pass what a reviewer may see.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["AuditEntry", "history", "record", "recent"]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at_ms: int
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    origin: str


def record(
    db: sqlite3.Connection,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    origin: str,
    *,
    at_ms: int | None = None,
) -> int:
    """Append one entry (in the caller's transaction; no commit of its own); return its id."""
    if not actor:
        raise ValueError("an audit entry needs an actor")
    cur = db.execute(
        "INSERT INTO audit_log (at_ms, actor, action, entity, entity_id, before, after, origin) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (at_ms if at_ms is not None else int(time.time() * 1000), actor, action, entity, str(entity_id),
         _dump(before), _dump(after), origin),
    )
    return int(cur.lastrowid or 0)


def history(db: sqlite3.Connection, entity: str, entity_id: object) -> list[AuditEntry]:
    """Every entry about one entity, oldest first."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM audit_log WHERE entity = ? AND entity_id = ? ORDER BY id",
        (entity, str(entity_id)),
    )
    return [_entry(r) for r in rows]


def recent(db: sqlite3.Connection, limit: int = 100) -> list[AuditEntry]:
    """The newest entries, newest first."""
    rows = db.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
    return [_entry(r) for r in rows]


_COLUMNS = "id, at_ms, actor, action, entity, entity_id, before, after, origin"


def _dump(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, default=str)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    id_, at_ms, actor, action, entity, entity_id, before, after, origin = row
    return AuditEntry(
        int(id_), int(at_ms), actor, action, entity, entity_id,
        json.loads(before) if before is not None else None,
        json.loads(after) if after is not None else None,
        origin,
    )
