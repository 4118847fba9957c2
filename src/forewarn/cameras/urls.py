"""Camera addresses: which are accepted, how their credentials are hidden, how a browser plays them.

Pure functions of a URL string. IP cameras carry their credentials in the address
(``rtsp://admin:pass@10.0.0.5/stream1``, ``http://cam/cgi-bin/snapshot.cgi?usr=admin&pwd=...``);
forewarn keeps them as given (it needs them to grab a snapshot) but answers them masked to
anyone who may not change the registry, and never writes them into the audit log.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["LIVE_SCHEMES", "MASK", "SNAPSHOT_SCHEMES", "has_credentials", "live_kind", "mask", "origin",
           "url_problem"]

MASK = "***"
SNAPSHOT_SCHEMES = ("http", "https", "rtsp", "rtsps")
#: a browser plays only these: MJPEG or a still over HTTP(S) in an <img>, HLS in a <video>
LIVE_SCHEMES = ("http", "https")
#: query parameters that cameras (Hikvision, Dahua, Foscam, Axis ...) use for secrets
_SECRET_PARAMS = frozenset({"pwd", "password", "passwd", "pass", "token", "key", "auth", "secret", "signature",
                            "sig", "apikey", "api_key", "access_token"})
MAX_URL = 2000
#: a host name, an IPv4 or an IPv6 address (nothing that could break out of a CSP source)
_HOST = re.compile(r"^[A-Za-z0-9._-]+$|^[0-9A-Fa-f:.]+$")


def url_problem(url: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with ``url`` as a camera address of one of ``schemes``, or None."""
    if len(url) > MAX_URL:
        return f"is longer than {MAX_URL} characters"
    if not url.isprintable() or any(c.isspace() for c in url):
        return "holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in schemes:
        return f"must start with {' or '.join(s + '://' for s in schemes)} (not {parts.scheme or 'no scheme'})"
    if not parts.hostname:
        return "names no host"
    if not _HOST.match(parts.hostname):
        return f"host {parts.hostname!r} is not a host name or an IP address"
    return None


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a user, a password or a secret query parameter."""
    parts = urlsplit(url)
    return bool(parts.username or parts.password) or any(
        k.lower() in _SECRET_PARAMS for k, _ in parse_qsl(parts.query, keep_blank_values=True))


def mask(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***`` (the user name stays:
    it helps to tell which account a camera uses, and is no secret on its own)."""
    if not url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
        query = urlencode([(k, MASK if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def live_kind(url: str) -> str:
    """How the dashboard plays a live-view address: ``hls`` (an .m3u8 playlist, in a <video>),
    ``image`` (MJPEG or a still, in an <img>), or ``none`` (not playable by a browser: RTSP, or an
    address with credentials, which browsers refuse in a page's subresources and which must not
    reach the page anyway)."""
    if not url or has_credentials(url) or url_problem(url, LIVE_SCHEMES):
        return "none"
    parts = urlsplit(url)
    if parts.scheme not in LIVE_SCHEMES:
        return "none"
    return "hls" if parts.path.lower().endswith(".m3u8") else "image"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as a Content-Security-Policy source names it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
