"""Users, their passwords, API tokens and device tokens: the use cases, on either store.

The rules live here (names, reach, argon2id hashing, a disabled user gets no token, a new
password ends the old tokens and sessions, every change audited); the rows are kept by the
store's :class:`~forewarn.store.users.UsersRepository`, picked from the connection passed in
(:func:`~forewarn.store.users.users_repository`: SQLite's or PostgreSQL's).

Reads never write, except :func:`authenticate` (which may store a rehashed password) and
:func:`user_for_token` (which notes when a token was last used, at most once a minute); those
single statements join the caller's transaction, or commit at once on a connection in
autocommit mode (as the store's is).

Every change of a user or token (create, password, disable, enable, issue, revoke) is atomic
(:func:`forewarn.access.tx.atomic`): inside the caller's transaction it is a savepoint and the
caller commits; outside any transaction it is its own transaction and commits. Each is audited
in the same transaction with ``actor`` and ``origin``; no password hash or token ever goes
into the audit log. Tokens are returned once and stored only as their SHA-256 (hex).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from forewarn.access import audit
from forewarn.access.errors import AccessError, UserExists
from forewarn.access.passwords import (
    check_policy,
    dummy_verify,
    hash_password,
    needs_rehash,
    verify_password,
)
from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.store.users import ApiToken, NewUser, UserRecord, UsersRepository, users_repository

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

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

    @classmethod
    def of(cls, record: UserRecord) -> User:
        """The user of a stored record."""
        return cls(record.id, record.name, Role(record.role), record.region_code, record.enterprise_id,
                   record.enterprise, record.disabled, record.created_ms, record.password_changed_ms)

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


def _now() -> int:
    return int(time.time() * 1000)


def token_hash(token: str) -> str:
    """How a token is stored and looked up: the SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- users


def login_secret(db: Db, name: str) -> tuple[str, bool] | None:
    """(password hash, disabled) of the user ``name``, for checking a login; None if no such user."""
    secret = users_repository(db).login_secret(name)
    return None if secret is None else (secret.password_hash, secret.disabled)


def get_user(db: Db, name: str) -> User | None:
    record = users_repository(db).user(name)
    return None if record is None else User.of(record)


def _existing(repo: UsersRepository, name: str) -> User:
    record = repo.user(name)
    if record is None:
        raise AccessError(f"no user named {name!r} (see 'forewarn users list')")
    return User.of(record)


def list_users(db: Db) -> list[User]:
    return [User.of(r) for r in users_repository(db).users()]


def find_enterprise(db: Db, name: str) -> int:
    """The id of the enterprise called ``name``; :class:`AccessError` if there is none."""
    found = users_repository(db).enterprise_named(name)
    if found is None:
        raise AccessError(f"no enterprise named {name!r} in the registry")
    return found


def _check_name(name: str) -> None:
    if not name or name != name.strip():
        raise AccessError(f"a user name may not be empty or begin or end with a space: {name!r}")
    if len(name) > MAX_NAME:
        raise AccessError(f"a user name may have at most {MAX_NAME} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in name):
        raise AccessError(f"a user name may not contain spaces or control characters: {name!r}")


def _check_reach(repo: UsersRepository, role: Role, region_code: str | None, enterprise_id: int | None) -> None:
    if role is Role.DISTRICT_ADMIN and not region_code:
        raise AccessError("a district administrator needs a region (--region CODE)")
    if role is Role.ENTERPRISE_USER and enterprise_id is None:
        raise AccessError("an enterprise user needs an enterprise (--enterprise NAME)")
    if region_code and role not in (Role.DISTRICT_ADMIN, Role.AUDITOR):
        raise AccessError(f"a {role} has no region (only district administrators and auditors do)")
    if enterprise_id is not None and role is not Role.ENTERPRISE_USER:
        raise AccessError(f"a {role} belongs to no enterprise (only enterprise users do)")
    if region_code and not repo.region_exists(region_code):
        raise AccessError(f"no region with code {region_code!r} in the registry")
    if enterprise_id is not None and not repo.enterprise_exists(enterprise_id):
        raise AccessError(f"no enterprise with id {enterprise_id} in the registry")


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccessError(f"unknown role {role!r} (one of {', '.join(Role)})") from None


def create_user(
    db: Db,
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
    hashes off the writer thread); ``password`` is then ignored. A name already taken raises
    :class:`~forewarn.access.errors.UserExists`, also when another process took it meanwhile."""
    role = _role(role)
    _check_name(name)
    if password_hash is None:
        check_policy(password)
    hashed = password_hash or hash_password(password)  # slow: before taking the write lock
    now = now_ms if now_ms is not None else _now()
    repo = users_repository(db)
    with repo.atomic():
        _check_reach(repo, role, region_code, enterprise_id)
        added = repo.add_user(NewUser(name, hashed, str(role), region_code or None, enterprise_id, now))
        if added is None:
            raise UserExists(f"a user named {name!r} already exists")
        user = _existing(repo, name)
        repo.audit.append(audit.entry(actor, "user.create", "user", name, None, user.public(), origin, at_ms=now))
    return user


def set_password(db: Db, name: str, password: str, *, actor: str, origin: str, now_ms: int | None = None) -> User:
    """Give a user a new password (atomic, audited without the hash).

    The user's API tokens and dashboard sessions are revoked with it: a password is changed
    when it may have leaked, and so may the tokens and sessions opened with it."""
    check_policy(password)
    return set_password_hash(db, name, hash_password(password), actor=actor, origin=origin, now_ms=now_ms)


def set_password_hash(db: Db, name: str, hashed: str, *, actor: str, origin: str, now_ms: int | None = None) -> User:
    """:func:`set_password` with the hash already made (the API hashes off the writer thread)."""
    now = now_ms if now_ms is not None else _now()
    repo = users_repository(db)
    with repo.atomic():
        before = _existing(repo, name)
        repo.set_password_hash(before.id, hashed, now)
        repo.revoke_api_tokens_of(before.id)
        repo.end_sessions_of(before.id)
        after = _existing(repo, name)
        repo.audit.append(audit.entry(actor, "user.password", "user", name, before.public(), after.public(), origin,
                                      at_ms=now))
    return after


def _set_disabled(db: Db, name: str, disabled: bool, actor: str, origin: str) -> bool:
    repo = users_repository(db)
    with repo.atomic():
        before = _existing(repo, name)
        if not repo.set_disabled(before.id, disabled):
            return False  # already so (also when another process changed it meanwhile): nothing to audit
        if disabled:  # a session is a login: enabling the user again does not bring it back
            repo.end_sessions_of(before.id)
        after = _existing(repo, name)
        action = "user.disable" if disabled else "user.enable"
        repo.audit.append(audit.entry(actor, action, "user", name, before.public(), after.public(), origin))
    return True


def disable_user(db: Db, name: str, *, actor: str, origin: str) -> bool:
    """Disable a user: no login, no API token of theirs works. False if already disabled."""
    return _set_disabled(db, name, True, actor, origin)


def enable_user(db: Db, name: str, *, actor: str, origin: str) -> bool:
    """Enable a disabled user again. False if not disabled."""
    return _set_disabled(db, name, False, actor, origin)


def authenticate(db: Db, name: str, password: str) -> User | None:
    """The user if ``name`` and ``password`` match an enabled user, else None.

    An unknown name costs one verification against a dummy hash, as a known one does, so the
    time taken does not tell which names exist. A hash made with older parameters is replaced.
    Rate limiting is the caller's (:mod:`forewarn.access.ratelimit`).
    """
    repo = users_repository(db)
    secret = repo.login_secret(name)
    if secret is None:
        dummy_verify(password)
        return None
    if not verify_password(secret.password_hash, password) or secret.disabled:
        return None
    if needs_rehash(secret.password_hash):
        repo.replace_password_hash(secret.user_id, secret.password_hash, hash_password(password))
    record = repo.user(name)
    return None if record is None else User.of(record)


# ---------------------------------------------------------------------- API tokens


#: how long an API token is valid by default: a year, so that a forgotten integration's token
#: does not work for ever, yet no working integration stops without a year's notice
DEFAULT_TOKEN_DAYS = 365


def issue_api_token(
    db: Db, name: str, label: str = "", *, actor: str, origin: str, now_ms: int | None = None,
    days: float | None = DEFAULT_TOKEN_DAYS,
) -> IssuedToken:
    """A new bearer token for user ``name`` (atomic, audited); the token is returned only here.
    It ends after ``days`` (None: only when revoked)."""
    token = secrets.token_urlsafe(32)
    now = now_ms if now_ms is not None else _now()
    repo = users_repository(db)
    with repo.atomic():
        user = _existing(repo, name)
        if user.disabled:
            raise AccessError(f"user {name!r} is disabled: no token for them")
        expires = None if days is None else now + int(days * 86_400_000)
        token_id = repo.add_api_token(user.id, label, token_hash(token), now, expires)
        repo.audit.append(audit.entry(actor, "token.issue", "api_token", token_id, None,
                                      {"user": name, "name": label, "created_ms": now, "expires_ms": expires},
                                      origin, at_ms=now))
    return IssuedToken(token_id, token)


def user_for_token(db: Db, token: str, *, now_ms: int | None = None, touch: bool = True) -> User | None:
    """The enabled user whose unrevoked, unexpired token this is, else None; notes the use (once a minute)."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    now = now_ms if now_ms is not None else _now()
    repo = users_repository(db)
    found = repo.api_token_use(token_hash(token), now)
    if found is None:
        return None
    if touch and (found.last_used_ms is None or now - found.last_used_ms >= _TOUCH_EVERY_MS):
        repo.note_api_token_use(found.token_id, now)
    return User.of(found.user)


def list_api_tokens(db: Db, name: str | None = None) -> list[ApiToken]:
    return users_repository(db).api_tokens(name)


def revoke_api_token(db: Db, token_id: int, *, actor: str, origin: str) -> bool:
    """Revoke one token (atomic, audited). False if it was already revoked."""
    repo = users_repository(db)
    with repo.atomic():
        found = repo.api_token(token_id)
        if found is None:
            raise AccessError(f"no API token with id {token_id}")
        if not repo.revoke_api_token(token_id):
            return False
        repo.audit.append(audit.entry(actor, "token.revoke", "api_token", token_id,
                                      {"user": found.user, "name": found.name, "revoked": False},
                                      {"user": found.user, "name": found.name, "revoked": True}, origin))
    return True


# ---------------------------------------------------------------------- device tokens


def issue_device_token(db: Db, device_id: int, *, actor: str, origin: str, now_ms: int | None = None) -> str:
    """A new token for a device that pushes over HTTP (atomic, audited); returned only here.

    A device may hold several tokens (to rotate one without a gap); revoke them with
    :func:`revoke_device_tokens`.
    """
    token = secrets.token_urlsafe(32)
    now = now_ms if now_ms is not None else _now()
    repo = users_repository(db)
    with repo.atomic():
        mn = repo.device_mn(device_id)
        if mn is None:
            raise AccessError(f"no device with id {device_id}")
        repo.add_device_token(device_id, token_hash(token), now)
        repo.audit.append(audit.entry(actor, "device_token.issue", "device", device_id, None,
                                      {"mn": mn, "created_ms": now}, origin, at_ms=now))
    return token


def device_for_token(db: Db, token: str) -> int | None:
    """The id of the registered device this token belongs to, else None."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    return users_repository(db).device_of_token(token_hash(token))


def revoke_device_tokens(db: Db, device_id: int, *, actor: str, origin: str) -> int:
    """Delete every token of a device (atomic, audited); return how many there were."""
    repo = users_repository(db)
    with repo.atomic():
        count = repo.delete_device_tokens(device_id)
        if count:
            repo.audit.append(audit.entry(actor, "device_token.revoke", "device", device_id, {"tokens": count},
                                          {"tokens": 0}, origin))
    return count
