"""The process's open-file limit, and how many connections each port may hold within it.

Every TCP connection is an open file. With the common soft limit of 1,024, a peer opening
1,100 idle connections used every descriptor: the HJ 212 port, the HTTP port and even the
database's next file failed with "Too many open files" (and the accept loop logged it many
thousand times a second). So ``serve`` raises its soft limit to the hard one (allowed
without privileges), and the platform gives each port a connection cap that leaves room for
the other and for its own files, lowered from the settings when the limit is smaller.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

__all__ = ["ConnectionCaps", "connection_caps", "open_files_limit", "raise_open_files_limit"]

log = logging.getLogger(__name__)

#: descriptors kept for the database and its WAL, reader threads, log files, attachments
RESERVED_FILES = 128


def open_files_limit() -> int:
    """The soft limit on open files now (a large number when unlimited)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard one; returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit from %d to %d (%s); device connections are capped "
                    "to fit %d", soft, hard, exc, soft)
        return soft, soft
    return soft, hard


@dataclass(frozen=True, slots=True)
class ConnectionCaps:
    hj212: int
    http: int
    #: a line for the log when the limit forced the caps below the settings ("" otherwise)
    warning: str = ""


def connection_caps(files: int, hj212: int, http: int) -> ConnectionCaps:
    """The caps to enforce: the settings', or shares of what ``files`` leaves after the
    reserve when both do not fit (``hj212`` 0: no cap asked; the limit still applies)."""
    room = max(files - RESERVED_FILES, 16)
    if hj212 and hj212 + http <= room:
        return ConnectionCaps(hj212, http)
    if not hj212 and http <= room // 2:  # no cap asked: the devices get what HTTP leaves
        return ConnectionCaps(room - http, http)
    http_cap = max(8, min(http, room // 4))
    device_cap = max(8, room - http_cap)
    return ConnectionCaps(
        device_cap, http_cap,
        f"the open-file limit is {files}: at most {device_cap} device connections and {http_cap} HTTP "
        f"connections fit (settings ask {hj212 or 'unlimited'} and {http}); raise the limit (ulimit -n, or "
        f"LimitNOFILE= in the systemd unit) to serve more",
    )
