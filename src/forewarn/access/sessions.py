"""Dashboard sessions: a random token in an HttpOnly cookie, its SHA-256 in the database.

Why in the database and not signed cookies: a session must end at logout, at a password
change and when its user is disabled, on every process that serves the API, and survive a
restart; a row does all of that. The CSRF token is derived from the session token (an HMAC),
so it needs no storage: only a client that can read our JSON answers (same origin) learns
it, and only a request that carries the cookie can be checked against it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from forewarn.access import audit
from forewarn.access.tx import atomic
from forewarn.access.users import User, get_user, token_hash

__all__ = ["LiveSession", "OpenedSession", "csrf_for", "end_session", "open_session", "touch_session",
           "user_for_session"]

_MAX_TOKEN = 256
#: a session's last use is noted at most this often (each note is a write)
TOUCH_EVERY_MS = 60_000


@dataclass(frozen=True)
class OpenedSession:
    id: int
    token: str       # goes in the cookie; only its hash is stored
    csrf: str        # goes in the X-CSRF-Token header of every unsafe request
    expires_ms: int


def csrf_for(session_token: str) -> str:
    """The CSRF token belonging to a session token (HMAC-SHA256, URL-safe hex)."""
    return hmac.new(session_token.encode("utf-8"), b"forewarn-csrf", hashlib.sha256).hexdigest()


def open_session(db: sqlite3.Connection, user: User, *, now_ms: int, ttl_ms: int, address: str,
                 origin: str = "api", read_only: bool = False) -> OpenedSession:
    """Start a session for ``user`` (atomic, audited as a login). A ``read_only`` session (a
    control-room screen's) may only read, and being idle does not end it."""
    token = secrets.token_urlsafe(32)
    expires = now_ms + ttl_ms
    with atomic(db):
        cur = db.execute(
            "INSERT INTO sessions (user_id, token_hash, created_ms, expires_ms, last_used_ms, address, read_only) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user.id, token_hash(token), now_ms, expires, now_ms, address[:64], int(read_only)),
        )
        session_id = int(cur.lastrowid or 0)
        audit.record(db, user.name, "session.login", "session", session_id, None,
                     {"user": user.name, "address": address[:64], "expires_ms": expires, "read_only": read_only},
                     origin, at_ms=now_ms)
    return OpenedSession(session_id, token, csrf_for(token), expires)


@dataclass(frozen=True)
class LiveSession:
    id: int
    user: User
    last_used_ms: int
    read_only: bool


def user_for_session(db: sqlite3.Connection, token: str, *, now_ms: int, idle_ms: int) -> LiveSession | None:
    """The live session of ``token``, else None (expired, idle, revoked, or its user disabled).
    Reads only: noting the use is the caller's (a write)."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = db.execute(
        "SELECT s.id, u.name, s.last_used_ms, s.read_only FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = ? AND s.revoked = 0 AND u.disabled = 0 AND s.expires_ms > ? "
        "AND (s.read_only = 1 OR s.last_used_ms > ?)",
        (token_hash(token), now_ms, now_ms - idle_ms),
    ).fetchone()
    if row is None:
        return None
    user = get_user(db, row[1])
    return None if user is None else LiveSession(int(row[0]), user, int(row[2]), bool(row[3]))


def touch_session(db: sqlite3.Connection, session_id: int, now_ms: int) -> None:
    db.execute("UPDATE sessions SET last_used_ms = MAX(last_used_ms, ?) WHERE id = ?", (now_ms, session_id))


def end_session(db: sqlite3.Connection, session_id: int, actor: str, *, origin: str = "api") -> None:
    """Log out: the session can no longer be used (atomic, audited)."""
    with atomic(db):
        db.execute("UPDATE sessions SET revoked = 1 WHERE id = ?", (session_id,))
        audit.record(db, actor, "session.logout", "session", session_id, {"revoked": False}, {"revoked": True},
                     origin)
