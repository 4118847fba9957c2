"""The audit log: every write, who made it, when, and the entity before and after.

``before`` and ``after`` are JSON objects (``None`` for a creation or a deletion), stored so
that Chinese names stay readable. Secrets (password hashes, tokens) never go in: callers pass
what a reviewer may see. The entries are kept by the store's audit log
(:mod:`forewarn.store.audit_log`), in the caller's transaction, on either store.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from forewarn.store.audit_log import AuditEntry, NewAuditEntry, audit_log_of

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

__all__ = ["AuditEntry", "entry", "history", "record", "recent"]


def entry(
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    origin: str,
    *,
    at_ms: int | None = None,
) -> NewAuditEntry:
    """One entry to append; an entry without an actor is a programming error (ValueError)."""
    if not actor:
        raise ValueError("an audit entry needs an actor")
    return NewAuditEntry(at_ms if at_ms is not None else int(time.time() * 1000), actor, action, entity,
                         str(entity_id), before, after, origin)


def record(
    db: Db,
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
    return audit_log_of(db).append(entry(actor, action, entity, entity_id, before, after, origin, at_ms=at_ms))


def history(db: Db, entity: str, entity_id: object) -> list[AuditEntry]:
    """Every entry about one entity, oldest first."""
    return audit_log_of(db).history(entity, str(entity_id))


def recent(db: Db, limit: int = 100) -> list[AuditEntry]:
    """The newest entries, newest first."""
    return audit_log_of(db).recent(limit)
