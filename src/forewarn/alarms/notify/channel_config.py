"""What each kind of channel needs to know: one frozen record per kind, read from a ``[[channel]]`` table.

Secrets (the webhook key, the SMTP password) are kept out of ``repr`` so that a channel can be
logged without leaking them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import ClassVar
from urllib.parse import urlsplit

from forewarn.alarms.notify.tables import TableReader

__all__ = ["ChannelConfig", "EmailConfig", "KINDS", "SmsConfig", "WebhookConfig", "read_channel"]

_DEFAULT_TIMEOUT_S = 10.0
_MAX_TIMEOUT_S = 300.0
_PHONE = re.compile(r"^\+?[0-9]{3,20}$")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """POST the notice as JSON to ``url``, signed with ``secret``."""

    kind: ClassVar[str] = "webhook"
    name: str
    url: str
    secret: str = field(repr=False)
    timeout_s: float = _DEFAULT_TIMEOUT_S
    headers: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class EmailConfig:
    """Send the notice by SMTP from ``sender`` to every address in ``to``."""

    kind: ClassVar[str] = "email"
    name: str
    smtp_host: str
    smtp_port: int
    sender: str
    to: tuple[str, ...]
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout_s: float = _DEFAULT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class SmsConfig:
    """Call an SMS gateway's HTTP API once per phone number, from a URL (and body) template."""

    kind: ClassVar[str] = "sms"
    name: str
    url: str  # with {to} and {text}, substituted URL-encoded
    to: tuple[str, ...]
    method: str = "GET"
    body: str = ""  # POST only; {to} and {text} substituted encoded for content_type
    content_type: str = "application/x-www-form-urlencoded"
    timeout_s: float = _DEFAULT_TIMEOUT_S
    headers: dict[str, str] = field(default_factory=dict, repr=False)


ChannelConfig = WebhookConfig | EmailConfig | SmsConfig
KINDS = ("webhook", "email", "sms")


def _check_url(r: TableReader, key: str, url: str) -> None:
    if not url:
        return
    sample = url.replace("{to}", "0").replace("{text}", "x")
    parts = urlsplit(sample)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.problem(f"'{key}' = \"{url}\" is not an http:// or https:// address with a host")


def _timeout(r: TableReader) -> float:
    return r.number("timeout_s", _DEFAULT_TIMEOUT_S, 0, _MAX_TIMEOUT_S)


def _webhook(r: TableReader, name: str) -> WebhookConfig:
    url = r.text("url")
    _check_url(r, "url", url)
    secret = r.text("secret")
    return WebhookConfig(name, url, secret, _timeout(r), r.mapping("headers"))


def _email(r: TableReader, name: str) -> EmailConfig:
    host = r.text("smtp_host")
    starttls = r.flag("starttls", False)
    ssl = r.flag("ssl", False)
    if starttls and ssl:
        r.problem("'starttls' and 'ssl' are both true; 'ssl' is for port 465, 'starttls' for 587: keep one")
    port = r.integer("smtp_port", 465 if ssl else 587 if starttls else 25, 1, 65535)
    username = r.text("username", "")
    password = r.text("password", "")
    if bool(username) != bool(password):
        r.problem("'username' and 'password' go together: give both or neither")
    sender = r.text("from")
    to = r.texts("to", required=True) or []
    for address in ([sender] if sender else []) + to:
        if "@" not in parseaddr(address)[1]:
            r.problem(f"\"{address}\" is not an e-mail address")
    return EmailConfig(name, host, port, sender, tuple(to), username, password, starttls, ssl, _timeout(r))


def _sms(r: TableReader, name: str) -> SmsConfig:
    url = r.text("url")
    _check_url(r, "url", url)
    method = r.text("method", "GET").upper()
    if method not in ("GET", "POST"):
        r.problem(f"'method' = \"{method}\" must be GET or POST")
    body = r.text("body", "")
    if body and method != "POST":
        r.problem("'body' is sent only with method = \"POST\"")
    content_type = r.text("content_type", "application/x-www-form-urlencoded")
    for placeholder in ("{to}", "{text}"):
        if url and placeholder not in url and placeholder not in body:
            r.problem(f"neither 'url' nor 'body' has the placeholder {placeholder}")
    to = r.texts("to", required=True) or []
    for number in to:
        if not _PHONE.match(number):
            r.problem(f"\"{number}\" is not a phone number (digits, optionally a leading +)")
    return SmsConfig(name, url, tuple(to), method, body, content_type, _timeout(r), r.mapping("headers"))


_READERS: dict[str, Callable[[TableReader, str], ChannelConfig]] = {
    "webhook": _webhook,
    "email": _email,
    "sms": _sms,
}


def read_channel(r: TableReader) -> ChannelConfig | None:
    """The channel a ``[[channel]]`` table describes, or None when it is too wrong to use."""
    name = r.text("name")
    kind = r.text("kind")
    reader = _READERS.get(kind)
    if reader is None:
        if kind:
            r.problem(f"'kind' = \"{kind}\" is not one of {', '.join(KINDS)}")
        return None
    channel = reader(r, name)
    r.check_unknown()
    return channel
