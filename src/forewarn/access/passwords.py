"""Password hashing (argon2id through argon2-cffi) and the password policy."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from forewarn.access.errors import PasswordPolicyError

__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "check_policy",
    "dummy_verify",
    "hash_password",
    "needs_rehash",
    "random_password",
    "verify_password",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing a megabyte on every login attempt is a gift to an attacker

#: argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)
_HASHER = PasswordHasher()


def check_policy(password: str) -> None:
    """Raise :class:`PasswordPolicyError` if the policy refuses ``password``."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(
            f"a password needs at least {MIN_LENGTH} characters (this one has {len(password)})"
        )
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; the encoded string holds the parameters)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (rehash after a login)."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def dummy_verify(password: str) -> None:
    """Spend the time of one verification, for a user that does not exist."""
    verify_password(_dummy_hash(), password)


def random_password() -> str:
    """A random password that passes the policy (about 96 bits)."""
    return secrets.token_urlsafe(12)
