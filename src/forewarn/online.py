"""When a device counts as online: defined once, for every figure that depends on it.

A device is **online** when it was last heard at most ``factor`` reporting intervals ago
(``factor`` is the setting ``offline_after_intervals``, 3 by default): a device reporting
every 60 s is offline after 180 s of silence. A device never heard is offline. Being heard
means any packet the platform took from it (data, heartbeat, time request), which is what
``device_activity.last_ms`` and ``Pipeline.last_seen`` record.

The live map (``live/feed.py``), ``forewarn status`` (``SqliteStore.status``), the device list
(``/api/v1/devices``) and the overview's online rate all ask here, so they cannot disagree
about a device at the same instant. Python code asks :func:`is_online`; queries embed
:func:`online_sql`, built from the same :func:`offline_cutoff_ms` arithmetic, so that a list of
10,000 devices is judged inside its one query rather than row by row after it.
"""

from __future__ import annotations

__all__ = ["offline_cutoff_ms", "is_online", "online_sql"]


def offline_cutoff_ms(now_ms: int, interval_s: int, factor: float) -> float:
    """The earliest last-contact time (epoch ms) at which a device is still online."""
    return now_ms - interval_s * 1000.0 * factor


def is_online(last_ms: int | None, interval_s: int, now_ms: int, factor: float) -> bool:
    """Whether a device last heard at ``last_ms`` (None: never) is online at ``now_ms``."""
    return last_ms is not None and last_ms >= offline_cutoff_ms(now_ms, interval_s, factor)


def online_sql(last_ms: str, interval_s: str, now_ms: int, factor: float) -> str:
    """The SQL twin of :func:`is_online` over two column expressions (e.g. ``a.last_ms``,
    ``d.interval_s``): 1 when online, 0 otherwise (never NULL).

    ``now_ms`` and ``factor`` are written in as numbers (int and float, so nothing a user typed
    can reach the text); the column names are the caller's own literals.
    """
    return (f"({last_ms} IS NOT NULL AND {last_ms} >= "
            f"{int(now_ms)} - {interval_s} * {1000.0 * float(factor)!r})")
