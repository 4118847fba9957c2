"""Dashboard sessions: a random token in an HttpOnly cookie, its SHA-256 in the database.

Why in the database and not signed cookies: a session must end at logout, at a password
change and when its user is disabled, on every process that serves the API, and survive a
restart; a row does all of that. The CSRF token is derived from the session token (an HMAC),
so it needs no storage: only a client that can read our JSON answers (same origin) learns
it, and only a request that carries the cookie can be checked against it. The rows are kept
by the store's :class:`~forewarn.store.users.UsersRepository` (either store).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from forewarn.access import audit
from forewarn.access.users import User, token_hash
from forewarn.store.users import NewSession, users_repository

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

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


def open_session(db: Db, user: User, *, now_ms: int, ttl_ms: int, address: str,
                 origin: str = "api", read_only: bool = False) -> OpenedSession:
    """Start a session for ``user`` (atomic, audited as a login). A ``read_only`` session (a
    control-room screen's) may only read, and being idle does not end it."""
    token = secrets.token_urlsafe(32)
    expires = now_ms + ttl_ms
    repo = users_repository(db)
    with repo.atomic():
        session_id = repo.add_session(NewSession(user.id, token_hash(token), now_ms, expires, address[:64], read_only))
        repo.audit.append(audit.entry(
            user.name, "session.login", "session", session_id, None,
            {"user": user.name, "address": address[:64], "expires_ms": expires, "read_only": read_only},
            origin, at_ms=now_ms))
    return OpenedSession(session_id, token, csrf_for(token), expires)


@dataclass(frozen=True)
class LiveSession:
    id: int
    user: User
    last_used_ms: int
    read_only: bool


def user_for_session(db: Db, token: str, *, now_ms: int, idle_ms: int) -> LiveSession | None:
    """The live session of ``token``, else None (expired, idle, revoked, or its user disabled).
    Reads only: noting the use is the caller's (a write)."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    found = users_repository(db).live_session(token_hash(token), now_ms, idle_ms)
    if found is None:
        return None
    return LiveSession(found.id, User.of(found.user), found.last_used_ms, found.read_only)


def touch_session(db: Db, session_id: int, now_ms: int) -> None:
    """Note a use of the session (never moving its last use back)."""
    users_repository(db).touch_session(session_id, now_ms)


def end_session(db: Db, session_id: int, actor: str, *, origin: str = "api") -> None:
    """Log out: the session can no longer be used (atomic, audited)."""
    repo = users_repository(db)
    with repo.atomic():
        repo.end_session(session_id)
        repo.audit.append(audit.entry(actor, "session.logout", "session", session_id, {"revoked": False},
                                      {"revoked": True}, origin))
