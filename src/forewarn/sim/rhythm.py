"""The shapes that make simulated values move like real ones over a day and a year.

Every function here takes the instant (Unix epoch milliseconds) or a local hour and returns a
number; nothing reads the clock. That keeps the simulator reproducible: the same device at
the same instant always gets the same value, whatever the speed or the order of calls.
All times of day are Asia/Shanghai local time, because that is the clock devices and
regulators in China live by (meal times, shifts, DataTime on the wire).
"""

from __future__ import annotations

import math
import zlib
from datetime import datetime
from zoneinfo import ZoneInfo

from forewarn.sim.profiles import Window

__all__ = [
    "TZ",
    "daily",
    "data_time",
    "hour_of_day",
    "in_windows",
    "local_day_ms",
    "qn_of",
    "seasonal",
    "stable_unit",
    "tank_fraction",
    "window_activity",
]

TZ = ZoneInfo("Asia/Shanghai")
_DAY_MS = 86_400_000


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, TZ)


def qn_of(ms: int) -> str:
    """HJ 212 QN: local time to the millisecond, ``yyyyMMddHHmmssSSS``."""
    t = _local(ms)
    return t.strftime("%Y%m%d%H%M%S") + f"{ms % 1000:03d}"


def data_time(ms: int) -> str:
    """HJ 212 DataTime: local time to the second, ``yyyyMMddHHmmss``."""
    return _local(ms).strftime("%Y%m%d%H%M%S")


def local_day_ms(ms: int) -> tuple[int, int]:
    """(days since 1970-01-01 local, milliseconds since local midnight)."""
    offset = _local(ms).utcoffset()
    local = ms + (int(offset.total_seconds() * 1000) if offset is not None else 0)
    return local // _DAY_MS, local % _DAY_MS


def hour_of_day(ms: int) -> float:
    """Local hour of the day as a float in [0, 24)."""
    return local_day_ms(ms)[1] / 3_600_000


def seasonal(ms: int) -> float:
    """+1 in mid-July, -1 in mid-January: the annual temperature swing of both seed cities."""
    t = _local(ms)
    doy = t.timetuple().tm_yday + t.hour / 24
    return math.cos(2 * math.pi * (doy - 197) / 365.25)


def daily(hour: float, peak_hour: float) -> float:
    """1 at ``peak_hour``, 0 twelve hours away, a smooth cosine between."""
    return (1 + math.cos(2 * math.pi * (hour - peak_hour) / 24)) / 2


def window_activity(hour: float, windows: tuple[Window, ...], ramp_h: float) -> float:
    """1 inside a window, ramping linearly from 0 over ``ramp_h`` at each end; 0 outside."""
    best = 0.0
    for start, end in windows:
        if end - start >= 24:
            return 1.0  # round the clock: no ramp at midnight
        if start <= hour < end:
            ramp = min(ramp_h, (end - start) / 2)
            if ramp <= 0:
                return 1.0
            best = max(best, min(1.0, (hour - start) / ramp, (end - hour) / ramp))
    return best


def in_windows(hour: float, windows: tuple[Window, ...], margin_h: float = 0.0) -> bool:
    """Whether ``hour`` is inside a window widened by ``margin_h`` on both sides (mod 24)."""
    for start, end in windows:
        lo, hi = start - margin_h, end + margin_h
        if hi - lo >= 24:
            return True
        for h in (hour, hour + 24, hour - 24):
            if lo <= h < hi:
                return True
    return False


def tank_fraction(ms: int, period_h: float, phase: float, refill_h: float) -> float:
    """A tank's fill fraction: 1 just after a refill, draining linearly to 0, then refilled.

    ``phase`` (0..1) shifts the cycle so that the tanks of a fleet are not refilled together.
    """
    period_ms = period_h * 3_600_000
    pos = ((ms / period_ms) + phase) % 1.0
    refill = min(refill_h / period_h, 0.5)
    drain = 1.0 - refill
    if pos < drain:
        return 1.0 - pos / drain
    return (pos - drain) / refill


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: per-device variety that survives restarts."""
    text = "|".join(str(p) for p in parts).encode("utf-8")
    return zlib.crc32(text) / 2**32
