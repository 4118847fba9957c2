"""Users, login secrets, API tokens, device tokens and dashboard sessions: the repository.

Why a repository: the use cases (:mod:`forewarn.access.users`, :mod:`forewarn.access.sessions`)
decide who may do what, check names and reach, hash passwords and audit every change; this
module only keeps and finds the rows, so that the same use cases run on the embedded SQLite
store and on PostgreSQL. :class:`UsersRepository` is the contract, with typed records;
:class:`SqlUsers` writes each statement once, in the SQL both engines understand, and a
:class:`~forewarn.store.dialect.Dialect` gives it each engine's parameter style.
:class:`SqliteUsers` is the embedded store's; ``forewarn.store.postgres.users.PostgresUsers``
the PostgreSQL one. Tokens and sessions are stored only as the SHA-256 of their token.

A name already taken is found by ``ON CONFLICT (name) DO NOTHING RETURNING id`` (no row back),
never by reading an engine's error text, and it does not abort a PostgreSQL transaction.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from forewarn.store.atomic import sqlite_atomic
from forewarn.store.audit_log import AuditLog, SqlAuditLog
from forewarn.store.dialect import SQLITE, Dialect

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

__all__ = [
    "ApiToken",
    "LoginSecret",
    "NewSession",
    "NewUser",
    "SessionUse",
    "SqlUsers",
    "SqliteUsers",
    "TokenUse",
    "UserRecord",
    "UsersRepository",
    "users_repository",
]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored (the role as its text; the access layer makes it a ``Role``)."""

    id: int
    name: str
    role: str
    region_code: str | None
    enterprise_id: int | None
    enterprise: str | None  # the enterprise's name, for lists and the audit log
    disabled: bool
    created_ms: int
    password_changed_ms: int


@dataclass(frozen=True, slots=True)
class NewUser:
    name: str
    password_hash: str
    role: str
    region_code: str | None
    enterprise_id: int | None
    created_ms: int


@dataclass(frozen=True, slots=True)
class LoginSecret:
    """What checking a login needs, and only that."""

    user_id: int
    password_hash: str
    disabled: bool


@dataclass(frozen=True)
class ApiToken:
    """An API token as a reviewer may see it (never the token or its hash)."""

    id: int
    user: str
    name: str
    created_ms: int
    last_used_ms: int | None
    revoked: bool
    expires_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TokenUse:
    """A live API token found by its hash: its id, when it was last noted, and its user."""

    token_id: int
    last_used_ms: int | None
    user: UserRecord


@dataclass(frozen=True, slots=True)
class NewSession:
    user_id: int
    token_hash: str
    created_ms: int
    expires_ms: int
    address: str
    read_only: bool


@dataclass(frozen=True, slots=True)
class SessionUse:
    """A live session found by its token's hash."""

    id: int
    user: UserRecord
    last_used_ms: int
    read_only: bool


class UsersRepository(Protocol):
    """Storage of users, their secrets, tokens and sessions. No rule lives here: every check of
    who may do what is the caller's; a method does what it says or reports that it could not."""

    @property
    def audit(self) -> AuditLog:
        """The audit log of the same store, written in the same transaction as the change."""
        ...

    def atomic(self) -> AbstractContextManager[object]:
        """All-or-nothing: its own transaction (committed at the end), or a savepoint inside the
        caller's open one (the caller commits)."""
        ...

    # users
    def user(self, name: str) -> UserRecord | None: ...
    def users(self) -> list[UserRecord]:
        """Every user, by name."""
        ...
    def has_users(self) -> bool: ...
    def login_secret(self, name: str) -> LoginSecret | None: ...
    def add_user(self, new: NewUser) -> int | None:
        """The new user's id; None when the name is taken (nothing is written then)."""
        ...
    def set_password_hash(self, user_id: int, password_hash: str, changed_ms: int) -> None: ...
    def replace_password_hash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        """Store ``new_hash`` only if ``old_hash`` is still the stored one (a rehash at login
        must not undo a password changed meanwhile); whether it was replaced."""
        ...
    def set_disabled(self, user_id: int, disabled: bool) -> bool:
        """Whether this changed the user (False: it already was so)."""
        ...

    # what the reach of a user refers to, in the registry
    def region_exists(self, code: str) -> bool: ...
    def enterprise_exists(self, enterprise_id: int) -> bool: ...
    def enterprise_named(self, name: str) -> int | None: ...
    def device_mn(self, device_id: int) -> str | None: ...

    # API tokens
    def add_api_token(self, user_id: int, label: str, token_hash: str, created_ms: int,
                      expires_ms: int | None) -> int: ...
    def api_token_use(self, token_hash: str, now_ms: int) -> TokenUse | None:
        """The unrevoked, unexpired token of an enabled user with this hash."""
        ...
    def note_api_token_use(self, token_id: int, now_ms: int) -> None: ...
    def api_token(self, token_id: int) -> ApiToken | None: ...
    def api_tokens(self, user_name: str | None = None) -> list[ApiToken]:
        """Every token (of one user if named), oldest first."""
        ...
    def revoke_api_token(self, token_id: int) -> bool:
        """Whether this revoked it (False: already revoked, or no such token)."""
        ...
    def revoke_api_tokens_of(self, user_id: int) -> int: ...

    # device tokens
    def add_device_token(self, device_id: int, token_hash: str, created_ms: int) -> None: ...
    def device_of_token(self, token_hash: str) -> int | None:
        """The registered device holding this token."""
        ...
    def delete_device_tokens(self, device_id: int) -> int: ...

    # sessions (people's and control-room screens' read-only ones share the table)
    def add_session(self, new: NewSession) -> int: ...
    def live_session(self, token_hash: str, now_ms: int, idle_ms: int) -> SessionUse | None:
        """The session unless expired, idle for ``idle_ms`` (a read-only one never is), ended,
        or its user disabled."""
        ...
    def touch_session(self, session_id: int, now_ms: int) -> None:
        """Note a use (never moving the last use back)."""
        ...
    def end_session(self, session_id: int) -> None: ...
    def end_sessions_of(self, user_id: int) -> int: ...


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class _Executes(Protocol):
    def execute(self, sql: str, params: Sequence[Any], /) -> _Cursor: ...


_USER = (
    "SELECT u.id, u.name, u.role, u.region_code, u.enterprise_id, e.name, u.disabled, u.created_ms, "
    "u.password_changed_ms FROM users u LEFT JOIN enterprises e ON e.id = u.enterprise_id"
)
_TOKEN = (
    "SELECT t.id, u.name, t.name, t.created_ms, t.last_used_ms, t.revoked, t.expires_ms FROM api_tokens t "
    "JOIN users u ON u.id = t.user_id"
)


def _user(row: Sequence[Any]) -> UserRecord:
    id_, name, role, region, enterprise_id, enterprise, disabled, created, changed = row
    return UserRecord(int(id_), str(name), str(role), region, None if enterprise_id is None else int(enterprise_id),
                      enterprise, bool(disabled), int(created), int(changed))


def _token(row: Sequence[Any]) -> ApiToken:
    id_, user, label, created, last_used, revoked, expires = row
    return ApiToken(int(id_), user, label, int(created), None if last_used is None else int(last_used),
                    bool(revoked), None if expires is None else int(expires))


class SqlUsers(ABC):
    """The repository's statements, once, for any engine whose connection has ``execute``;
    subclasses give the engine's transactions."""

    def __init__(self, db: _Executes, dialect: Dialect) -> None:
        self.db = db
        self.dialect = dialect
        self.audit: AuditLog = SqlAuditLog(db, dialect)

    def _run(self, sql: str, args: Sequence[Any] = ()) -> _Cursor:
        return self.db.execute(self.dialect.sql(sql), args)

    @abstractmethod
    def atomic(self) -> AbstractContextManager[object]:
        """All-or-nothing in this engine's way (SQLite: BEGIN IMMEDIATE or a savepoint; psycopg's
        transaction blocks)."""

    # ------------------------------------------------------------------ users

    def user(self, name: str) -> UserRecord | None:
        row = self._run(_USER + " WHERE u.name = ?", (name,)).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[UserRecord]:
        return [_user(r) for r in self._run(_USER + " ORDER BY u.name").fetchall()]

    def has_users(self) -> bool:
        return self._run("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def login_secret(self, name: str) -> LoginSecret | None:
        row = self._run("SELECT id, password_hash, disabled FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else LoginSecret(int(row[0]), str(row[1]), bool(row[2]))

    def add_user(self, new: NewUser) -> int | None:
        rows = self._run(
            "INSERT INTO users (name, password_hash, role, region_code, enterprise_id, disabled, created_ms, "
            "password_changed_ms) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id",
            (new.name, new.password_hash, new.role, new.region_code, new.enterprise_id, new.created_ms,
             new.created_ms),
        ).fetchall()
        return int(rows[0][0]) if rows else None

    def set_password_hash(self, user_id: int, password_hash: str, changed_ms: int) -> None:
        self._run("UPDATE users SET password_hash = ?, password_changed_ms = ? WHERE id = ?",
                  (password_hash, changed_ms, user_id))

    def replace_password_hash(self, user_id: int, old_hash: str, new_hash: str) -> bool:
        cur = self._run("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
                        (new_hash, user_id, old_hash))
        return cur.rowcount > 0

    def set_disabled(self, user_id: int, disabled: bool) -> bool:
        cur = self._run("UPDATE users SET disabled = ? WHERE id = ? AND disabled <> ?",
                        (int(disabled), user_id, int(disabled)))
        return cur.rowcount > 0

    # ------------------------------------------------------------------ registry references

    def region_exists(self, code: str) -> bool:
        return self._run("SELECT 1 FROM regions WHERE code = ?", (code,)).fetchone() is not None

    def enterprise_exists(self, enterprise_id: int) -> bool:
        return self._run("SELECT 1 FROM enterprises WHERE id = ?", (enterprise_id,)).fetchone() is not None

    def enterprise_named(self, name: str) -> int | None:
        row = self._run("SELECT id FROM enterprises WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def device_mn(self, device_id: int) -> str | None:
        row = self._run("SELECT mn FROM devices WHERE id = ?", (device_id,)).fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ API tokens

    def add_api_token(self, user_id: int, label: str, token_hash: str, created_ms: int,
                      expires_ms: int | None) -> int:
        rows = self._run(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?) "
            "RETURNING id",
            (user_id, label, token_hash, created_ms, expires_ms),
        ).fetchall()
        return int(rows[0][0])

    def api_token_use(self, token_hash: str, now_ms: int) -> TokenUse | None:
        row = self._run(
            "SELECT t.id, t.last_used_ms, u.id, u.name, u.role, u.region_code, u.enterprise_id, e.name, u.disabled, "
            "u.created_ms, u.password_changed_ms FROM api_tokens t JOIN users u ON u.id = t.user_id "
            "LEFT JOIN enterprises e ON e.id = u.enterprise_id WHERE t.token_hash = ? AND t.revoked = 0 "
            "AND u.disabled = 0 AND (t.expires_ms IS NULL OR t.expires_ms > ?)",
            (token_hash, now_ms),
        ).fetchone()
        if row is None:
            return None
        return TokenUse(int(row[0]), None if row[1] is None else int(row[1]), _user(row[2:]))

    def note_api_token_use(self, token_id: int, now_ms: int) -> None:
        self._run("UPDATE api_tokens SET last_used_ms = ? WHERE id = ?", (now_ms, token_id))

    def api_token(self, token_id: int) -> ApiToken | None:
        row = self._run(_TOKEN + " WHERE t.id = ?", (token_id,)).fetchone()
        return None if row is None else _token(row)

    def api_tokens(self, user_name: str | None = None) -> list[ApiToken]:
        if user_name is None:
            rows = self._run(_TOKEN + " ORDER BY t.id").fetchall()
        else:
            rows = self._run(_TOKEN + " WHERE u.name = ? ORDER BY t.id", (user_name,)).fetchall()
        return [_token(r) for r in rows]

    def revoke_api_token(self, token_id: int) -> bool:
        return self._run("UPDATE api_tokens SET revoked = 1 WHERE id = ? AND revoked = 0", (token_id,)).rowcount > 0

    def revoke_api_tokens_of(self, user_id: int) -> int:
        return self._run("UPDATE api_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0", (user_id,)).rowcount

    # ------------------------------------------------------------------ device tokens

    def add_device_token(self, device_id: int, token_hash: str, created_ms: int) -> None:
        self._run("INSERT INTO device_tokens (device_id, token_hash, created_ms) VALUES (?, ?, ?)",
                  (device_id, token_hash, created_ms))

    def device_of_token(self, token_hash: str) -> int | None:
        row = self._run(
            "SELECT t.device_id FROM device_tokens t JOIN devices d ON d.id = t.device_id WHERE t.token_hash = ?",
            (token_hash,),
        ).fetchone()
        return None if row is None else int(row[0])

    def delete_device_tokens(self, device_id: int) -> int:
        return self._run("DELETE FROM device_tokens WHERE device_id = ?", (device_id,)).rowcount

    # ------------------------------------------------------------------ sessions

    def add_session(self, new: NewSession) -> int:
        rows = self._run(
            "INSERT INTO sessions (user_id, token_hash, created_ms, expires_ms, last_used_ms, address, read_only) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (new.user_id, new.token_hash, new.created_ms, new.expires_ms, new.created_ms, new.address,
             int(new.read_only)),
        ).fetchall()
        return int(rows[0][0])

    def live_session(self, token_hash: str, now_ms: int, idle_ms: int) -> SessionUse | None:
        row = self._run(
            "SELECT s.id, s.last_used_ms, s.read_only, u.id, u.name, u.role, u.region_code, u.enterprise_id, e.name, "
            "u.disabled, u.created_ms, u.password_changed_ms FROM sessions s JOIN users u ON u.id = s.user_id "
            "LEFT JOIN enterprises e ON e.id = u.enterprise_id WHERE s.token_hash = ? AND s.revoked = 0 "
            "AND u.disabled = 0 AND s.expires_ms > ? AND (s.read_only = 1 OR s.last_used_ms > ?)",
            (token_hash, now_ms, now_ms - idle_ms),
        ).fetchone()
        if row is None:
            return None
        return SessionUse(int(row[0]), _user(row[3:]), int(row[1]), bool(row[2]))

    def touch_session(self, session_id: int, now_ms: int) -> None:
        self._run("UPDATE sessions SET last_used_ms = ? WHERE id = ? AND last_used_ms < ?",
                  (now_ms, session_id, now_ms))

    def end_session(self, session_id: int) -> None:
        self._run("UPDATE sessions SET revoked = 1 WHERE id = ?", (session_id,))

    def end_sessions_of(self, user_id: int) -> int:
        return self._run("UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0", (user_id,)).rowcount


class SqliteUsers(SqlUsers):
    """The repository on the embedded store's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__(db, SQLITE)
        self.connection = db

    def atomic(self) -> AbstractContextManager[object]:
        return sqlite_atomic(self.connection)


def users_repository(db: Db) -> UsersRepository:
    """The repository of whichever store ``db`` belongs to (PostgreSQL's module is imported
    only when a PostgreSQL connection comes: the embedded mode never loads psycopg)."""
    if isinstance(db, sqlite3.Connection):
        return SqliteUsers(db)
    from forewarn.store.postgres.users import PostgresUsers

    return PostgresUsers(db)
