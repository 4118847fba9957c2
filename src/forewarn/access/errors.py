"""The errors the access layer raises for a caller's mistake; each message is one line."""

from __future__ import annotations

__all__ = ["AccessError", "PasswordPolicyError", "UserExists"]


class AccessError(Exception):
    """A mistake in what was asked (unknown user, bad role, region that does not exist ...)."""


class PasswordPolicyError(AccessError):
    """A password the policy refuses; the message says what is required."""


class UserExists(AccessError):
    """The name asked for is taken (found by the store's insert, so also when another process
    took it a moment earlier): a caller making a user only if missing may treat it as done."""
