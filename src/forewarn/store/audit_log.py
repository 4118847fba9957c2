"""The audit log's writes and its plain reads, as a repository both stores implement.

Why a port of its own: every change in forewarn (a user, a token, a site, an alarm step) is
audited in the transaction that makes it, so whichever store holds the change must also hold
its entry. :class:`AuditLog` is what the use cases need of it; :class:`SqlAuditLog` holds its
statements, once: they serve both engines (the table is the same in both schemas: JSON as text, so
an entry reads back byte for byte as it was written), each in its dialect's parameter style.
Before and after cross the port as JSON-ready dicts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from forewarn.store.dialect import POSTGRES, SQLITE, Dialect

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

__all__ = ["AuditEntry", "AuditLog", "NewAuditEntry", "SqlAuditLog", "audit_log_of", "dump_json", "load_json"]


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """One entry to append: who did what to which entity, and where it came from."""

    at_ms: int
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    origin: str


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry, as read back."""

    id: int
    at_ms: int
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    origin: str


class AuditLog(Protocol):
    """Append-only: entries are never changed; reads are for reviewers and tests."""

    def append(self, entry: NewAuditEntry) -> int:
        """Append ``entry`` in the caller's transaction (no commit of its own); its id."""
        ...

    def history(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """Every entry about one entity, oldest first."""
        ...

    def recent(self, limit: int) -> list[AuditEntry]:
        """The newest entries, newest first."""
        ...


def dump_json(value: Mapping[str, Any] | None) -> str | None:
    """Before/after as stored: sorted keys, Chinese kept readable (not ``\\u`` escapes)."""
    if value is None:
        return None
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, default=str)


def load_json(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    loaded: dict[str, Any] = json.loads(text)
    return loaded


_COLUMNS = "id, at_ms, actor, action, entity, entity_id, before, after, origin"


def entry_of(row: tuple[Any, ...]) -> AuditEntry:
    """A row of ``_COLUMNS`` (before and after as JSON text) as an entry."""
    id_, at_ms, actor, action, entity, entity_id, before, after, origin = row
    return AuditEntry(int(id_), int(at_ms), actor, action, entity, str(entity_id), load_json(before),
                      load_json(after), origin)


class _Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...


class _Executes(Protocol):
    def execute(self, sql: str, params: Sequence[Any], /) -> _Cursor: ...


class SqlAuditLog:
    """The ``audit_log`` table (before and after as JSON text), in SQL both engines run."""

    def __init__(self, db: _Executes, dialect: Dialect) -> None:
        self.db = db
        self.dialect = dialect

    def _rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return self.db.execute(self.dialect.sql(sql), args).fetchall()

    def append(self, entry: NewAuditEntry) -> int:
        rows = self._rows(  # fetchall: the statement is finished before a savepoint's RELEASE
            "INSERT INTO audit_log (at_ms, actor, action, entity, entity_id, before, after, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (entry.at_ms, entry.actor, entry.action, entry.entity, entry.entity_id, dump_json(entry.before),
             dump_json(entry.after), entry.origin),
        )
        return int(rows[0][0])

    def history(self, entity: str, entity_id: str) -> list[AuditEntry]:
        rows = self._rows(f"SELECT {_COLUMNS} FROM audit_log WHERE entity = ? AND entity_id = ? ORDER BY id",
                          (entity, entity_id))
        return [entry_of(r) for r in rows]

    def recent(self, limit: int) -> list[AuditEntry]:
        return [entry_of(r) for r in self._rows(f"SELECT {_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT ?",
                                                 (limit,))]


def audit_log_of(db: Db) -> AuditLog:
    """The audit log of whichever store ``db`` belongs to."""
    return SqlAuditLog(db, SQLITE if isinstance(db, sqlite3.Connection) else POSTGRES)
