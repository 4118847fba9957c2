"""Webhook signatures: HMAC-SHA256 of the exact body bytes, keyed by the channel's secret.

Receivers verify the signature over the bytes they received, before parsing them, so that a
body re-serialised on the way (key order, spacing, escapes) cannot verify by accident. The
header value is ``sha256=<lowercase hex>``, the form GitHub's webhooks made familiar.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "EVENT_ID_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Forewarn-Signature"
EVENT_ID_HEADER = "X-Forewarn-Event-Id"


def sign(body: bytes, secret: str) -> str:
    """The header value for ``body``: ``sha256=`` and the hex HMAC-SHA256 of it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str) -> bool:
    """Whether ``header`` is the signature of ``body``; compared in constant time."""
    return hmac.compare_digest(sign(body, secret), header.strip())
