"""The one error the access layer raises for a caller's mistake; its message is one line."""

from __future__ import annotations

__all__ = ["AccessError", "PasswordPolicyError"]


class AccessError(Exception):
    """A mistake in what was asked (unknown user, bad role, region that does not exist ...)."""


class PasswordPolicyError(AccessError):
    """A password the policy refuses; the message says what is required."""
