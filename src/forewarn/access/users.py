"""Users, their passwords, API tokens and device tokens, stored in SQLite.

Reads never write, except :func:`authenticate` (which may store a rehashed password) and
:func:`user_for_token` (which notes when a token was last used, at most once a minute); those
single statements join the caller's transaction, or commit at once on a connection in
autocommit mode (as the store's is).

Every change of a user or token (create, password, disable, enable, issue, revoke) is atomic
(:func:`forewarn.access.tx.atomic`): inside the caller's transaction it is a savepoint and the
caller commits; outside any transaction it is its own ``BEGIN IMMEDIATE`` transaction and
commits. Each is audited in the same transaction with ``actor`` and ``origin``; no password
hash or token ever goes into the audit log. Tokens are returned once and stored only as their
SHA-256 (hex).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from forewarn.access import audit
from forewarn.access.errors import AccessError
from forewarn.access.passwords import (
    check_policy,
    dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.access.tx import atomic

__all__ = [
    "ApiToken",
    "IssuedToken",
    "User",
    "authenticate",
    "create_user",
    "device_for_token",
    "disable_user",
    "enable_user",
    "find_enterprise",
    "get_user",
    "issue_api_token",
    "issue_device_token",
    "list_api_tokens",
    "list_users",
    "revoke_api_token",
    "revoke_device_tokens",
    "set_password",
    "login_secret",
    "set_password_hash",
    "token_hash",
    "user_for_token",
]

MAX_NAME = 64
_TOUCH_EVERY_MS = 60_000
_MAX_TOKEN = 256


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    region_code: str | None
    enterprise_id: int | None
    enterprise: str | None
    disabled: bool
    created_ms: int
    password_changed_ms: int

    @property
    def scope(self) -> Scope:
        """What this user may see and do."""
        return Scope.for_user(self.role, self.region_code, self.enterprise_id)

    def public(self) -> dict[str, Any]:
        """The user as a reviewer may see it (for lists and the audit log): no hash."""
        return {
            "name": self.name,
            "role": str(self.role),
            "region_code": self.region_code,
            "enterprise_id": self.enterprise_id,
            "enterprise": self.enterprise,
            "disabled": self.disabled,
            "created_ms": self.created_ms,
            "password_changed_ms": self.password_changed_ms,
        }


class IssuedToken(NamedTuple):
    id: int
    token: str  # shown once; only its SHA-256 is stored


@dataclass(frozen=True)
class ApiToken:
    id: int
    user: str
    name: str
    created_ms: int
    last_used_ms: int | None
    revoked: bool
    expires_ms: int | None = None


def _now() -> int:
    return int(time.time() * 1000)


def token_hash(token: str) -> str:
    """How a token is stored and looked up: the SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- users

_USER_SELECT = (
    "SELECT u.id, u.name, u.role, u.region_code, u.enterprise_id, e.name, u.disabled, u.created_ms, "
    "u.password_changed_ms FROM users u LEFT JOIN enterprises e ON e.id = u.enterprise_id"
)


def _user(row: tuple[Any, ...]) -> User:
    id_, name, role, region, enterprise_id, enterprise, disabled, created, changed = row
    return User(int(id_), name, Role(role), region, enterprise_id, enterprise, bool(disabled), int(created),
                int(changed))


def login_secret(db: sqlite3.Connection, name: str) -> tuple[str, bool] | None:
    """(password hash, disabled) of the user ``name``, for checking a login; None if no such user."""
    row = db.execute("SELECT password_hash, disabled FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


def get_user(db: sqlite3.Connection, name: str) -> User | None:
    row = db.execute(_USER_SELECT + " WHERE u.name = ?", (name,)).fetchone()
    return _user(row) if row is not None else None


def _existing(db: sqlite3.Connection, name: str) -> User:
    user = get_user(db, name)
    if user is None:
        raise AccessError(f"no user named {name!r} (see 'forewarn users list')")
    return user


def list_users(db: sqlite3.Connection) -> list[User]:
    return [_user(r) for r in db.execute(_USER_SELECT + " ORDER BY u.name")]


def find_enterprise(db: sqlite3.Connection, name: str) -> int:
    """The id of the enterprise called ``name``; :class:`AccessError` if there is none."""
    row = db.execute("SELECT id FROM enterprises WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise AccessError(f"no enterprise named {name!r} in the registry")
    return int(row[0])


def _check_name(name: str) -> None:
    if not name or name != name.strip():
        raise AccessError(f"a user name may not be empty or begin or end with a space: {name!r}")
    if len(name) > MAX_NAME:
        raise AccessError(f"a user name may have at most {MAX_NAME} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise AccessError(f"a user name may not contain spaces or control characters: {name!r}")


def _check_reach(
    db: sqlite3.Connection, role: Role, region_code: str | None, enterprise_id: int | None
) -> None:
    if role is Role.DISTRICT_ADMIN and not region_code:
        raise AccessError("a district administrator needs a region (--region CODE)")
    if role is Role.ENTERPRISE_USER and enterprise_id is None:
        raise AccessError("an enterprise user needs an enterprise (--enterprise NAME)")
    if region_code and role not in (Role.DISTRICT_ADMIN, Role.AUDITOR):
        raise AccessError(f"a {role} has no region (only district administrators and auditors do)")
    if enterprise_id is not None and role is not Role.ENTERPRISE_USER:
        raise AccessError(f"a {role} belongs to no enterprise (only enterprise users do)")
    if region_code and db.execute("SELECT 1 FROM regions WHERE code = ?", (region_code,)).fetchone() is None:
        raise AccessError(f"no region with code {region_code!r} in the registry")
    if enterprise_id is not None and db.execute(
        "SELECT 1 FROM enterprises WHERE id = ?", (enterprise_id,)
    ).fetchone() is None:
        raise AccessError(f"no enterprise with id {enterprise_id} in the registry")


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccessError(f"unknown role {role!r} (one of {', '.join(Role)})") from None


def create_user(
    db: sqlite3.Connection,
    name: str,
    password: str,
    role: Role | str,
    *,
    region_code: str | None = None,
    enterprise_id: int | None = None,
    actor: str,
    origin: str,
    now_ms: int | None = None,
    password_hash: str | None = None,
) -> User:
    """Add a user (atomic, audited). A district administrator needs an existing region, an
    enterprise user an existing enterprise; an auditor may have a region (without one it reads
    everything). ``password_hash``: the caller checked and hashed the password already (the API
    hashes off the writer thread); ``password`` is then ignored."""
    role = _role(role)
    _check_name(name)
    if password_hash is None:
        check_policy(password)
    hashed = password_hash or hash_password(password)  # slow: before taking the write lock
    now = now_ms if now_ms is not None else _now()
    with atomic(db):
        _check_reach(db, role, region_code, enterprise_id)
        if get_user(db, name) is not None:
            raise AccessError(f"a user named {name!r} already exists")
        db.execute(
            "INSERT INTO users (name, password_hash, role, region_code, enterprise_id, disabled, created_ms, "
            "password_changed_ms) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            (name, hashed, str(role), region_code or None, enterprise_id, now, now),
        )
        user = _existing(db, name)
        audit.record(db, actor, "user.create", "user", name, None, user.public(), origin, at_ms=now)
    return user


def set_password(
    db: sqlite3.Connection, name: str, password: str, *, actor: str, origin: str, now_ms: int | None = None
) -> User:
    """Give a user a new password (atomic, audited without the hash).

    The user's API tokens and dashboard sessions are revoked with it: a password is changed
    when it may have leaked, and so may the tokens and sessions opened with it."""
    check_policy(password)
    return set_password_hash(db, name, hash_password(password), actor=actor, origin=origin, now_ms=now_ms)


def set_password_hash(
    db: sqlite3.Connection, name: str, hashed: str, *, actor: str, origin: str, now_ms: int | None = None
) -> User:
    """:func:`set_password` with the hash already made (the API hashes off the writer thread)."""
    now = now_ms if now_ms is not None else _now()
    with atomic(db):
        before = _existing(db, name)
        db.execute(
            "UPDATE users SET password_hash = ?, password_changed_ms = ? WHERE id = ?", (hashed, now, before.id)
        )
        db.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0", (before.id,))
        db.execute("UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0", (before.id,))
        after = _existing(db, name)
        audit.record(db, actor, "user.password", "user", name, before.public(), after.public(), origin, at_ms=now)
    return after


def _set_disabled(db: sqlite3.Connection, name: str, disabled: bool, actor: str, origin: str) -> bool:
    with atomic(db):
        before = _existing(db, name)
        if before.disabled == disabled:
            return False
        db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), before.id))
        if disabled:  # a session is a login: enabling the user again does not bring it back
            db.execute("UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0", (before.id,))
        after = _existing(db, name)
        action = "user.disable" if disabled else "user.enable"
        audit.record(db, actor, action, "user", name, before.public(), after.public(), origin)
    return True


def disable_user(db: sqlite3.Connection, name: str, *, actor: str, origin: str) -> bool:
    """Disable a user: no login, no API token of theirs works. False if already disabled."""
    return _set_disabled(db, name, True, actor, origin)


def enable_user(db: sqlite3.Connection, name: str, *, actor: str, origin: str) -> bool:
    """Enable a disabled user again. False if not disabled."""
    return _set_disabled(db, name, False, actor, origin)


def authenticate(db: sqlite3.Connection, name: str, password: str) -> User | None:
    """The user if ``name`` and ``password`` match an enabled user, else None.

    An unknown name costs one verification against a dummy hash, as a known one does, so the
    time taken does not tell which names exist. A hash made with older parameters is replaced.
    Rate limiting is the caller's (:mod:`forewarn.access.ratelimit`).
    """
    row = db.execute("SELECT id, password_hash, disabled FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        dummy_verify(password)
        return None
    user_id, stored, disabled = row
    if not verify_password(stored, password) or disabled:
        return None
    if needs_rehash(stored):
        db.execute("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
                   (hash_password(password), user_id, stored))
    return get_user(db, name)


# ---------------------------------------------------------------------- API tokens


#: how long an API token is valid by default: a year, so that a forgotten integration's token
#: does not work for ever, yet no working integration stops without a year's notice
DEFAULT_TOKEN_DAYS = 365


def issue_api_token(
    db: sqlite3.Connection, name: str, label: str = "", *, actor: str, origin: str, now_ms: int | None = None,
    days: float | None = DEFAULT_TOKEN_DAYS,
) -> IssuedToken:
    """A new bearer token for user ``name`` (atomic, audited); the token is returned only here.
    It ends after ``days`` (None: only when revoked)."""
    token = secrets.token_urlsafe(32)
    now = now_ms if now_ms is not None else _now()
    with atomic(db):
        user = _existing(db, name)
        if user.disabled:
            raise AccessError(f"user {name!r} is disabled: no token for them")
        expires = None if days is None else now + int(days * 86_400_000)
        cur = db.execute(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
            (user.id, label, token_hash(token), now, expires),
        )
        token_id = int(cur.lastrowid or 0)
        audit.record(db, actor, "token.issue", "api_token", token_id, None,
                     {"user": name, "name": label, "created_ms": now, "expires_ms": expires}, origin, at_ms=now)
    return IssuedToken(token_id, token)


def user_for_token(db: sqlite3.Connection, token: str, *, now_ms: int | None = None, touch: bool = True) -> User | None:
    """The enabled user whose unrevoked, unexpired token this is, else None; notes the use (once a minute)."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    now = now_ms if now_ms is not None else _now()
    row = db.execute(
        "SELECT t.id, t.last_used_ms, u.name FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = ? AND t.revoked = 0 AND u.disabled = 0 AND (t.expires_ms IS NULL OR t.expires_ms > ?)",
        (token_hash(token), now),
    ).fetchone()
    if row is None:
        return None
    token_id, last_used, name = row
    if touch and (last_used is None or now - last_used >= _TOUCH_EVERY_MS):
        db.execute("UPDATE api_tokens SET last_used_ms = ? WHERE id = ?", (now, token_id))
    return get_user(db, name)


def list_api_tokens(db: sqlite3.Connection, name: str | None = None) -> list[ApiToken]:
    sql = (
        "SELECT t.id, u.name, t.name, t.created_ms, t.last_used_ms, t.revoked, t.expires_ms FROM api_tokens t "
        "JOIN users u ON u.id = t.user_id"
    )
    args: tuple[str, ...] = ()
    if name is not None:
        sql += " WHERE u.name = ?"
        args = (name,)
    rows = db.execute(sql + " ORDER BY t.id", args)
    return [ApiToken(int(i), u, n, int(c), lu, bool(r), e) for i, u, n, c, lu, r, e in rows]


def revoke_api_token(db: sqlite3.Connection, token_id: int, *, actor: str, origin: str) -> bool:
    """Revoke one token (atomic, audited). False if it was already revoked."""
    with atomic(db):
        row = db.execute(
            "SELECT u.name, t.name, t.revoked FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?",
            (token_id,),
        ).fetchone()
        if row is None:
            raise AccessError(f"no API token with id {token_id}")
        user, label, revoked = row
        if revoked:
            return False
        db.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ?", (token_id,))
        audit.record(db, actor, "token.revoke", "api_token", token_id,
                     {"user": user, "name": label, "revoked": False}, {"user": user, "name": label, "revoked": True},
                     origin)
    return True


# ---------------------------------------------------------------------- device tokens


def issue_device_token(
    db: sqlite3.Connection, device_id: int, *, actor: str, origin: str, now_ms: int | None = None
) -> str:
    """A new token for a device that pushes over HTTP (atomic, audited); returned only here.

    A device may hold several tokens (to rotate one without a gap); revoke them with
    :func:`revoke_device_tokens`.
    """
    token = secrets.token_urlsafe(32)
    now = now_ms if now_ms is not None else _now()
    with atomic(db):
        row = db.execute("SELECT mn FROM devices WHERE id = ?", (device_id,)).fetchone()
        if row is None:
            raise AccessError(f"no device with id {device_id}")
        db.execute(
            "INSERT INTO device_tokens (device_id, token_hash, created_ms) VALUES (?, ?, ?)",
            (device_id, token_hash(token), now),
        )
        audit.record(db, actor, "device_token.issue", "device", device_id, None,
                     {"mn": row[0], "created_ms": now}, origin, at_ms=now)
    return token


def device_for_token(db: sqlite3.Connection, token: str) -> int | None:
    """The id of the registered device this token belongs to, else None."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    row = db.execute(
        "SELECT t.device_id FROM device_tokens t JOIN devices d ON d.id = t.device_id WHERE t.token_hash = ?",
        (token_hash(token),),
    ).fetchone()
    return int(row[0]) if row is not None else None


def revoke_device_tokens(db: sqlite3.Connection, device_id: int, *, actor: str, origin: str) -> int:
    """Delete every token of a device (atomic, audited); return how many there were."""
    with atomic(db):
        count = db.execute("DELETE FROM device_tokens WHERE device_id = ?", (device_id,)).rowcount
        if count:
            audit.record(db, actor, "device_token.revoke", "device", device_id, {"tokens": count}, {"tokens": 0},
                         origin)
    return int(count)
