"""Times as people write them: ISO 8601 in the devices' zone, and epoch milliseconds.

HJ 212 devices keep local time (Asia/Shanghai by default); the store keeps epoch ms (UTC);
people read and write ISO 8601 with an offset. Every layer (CLI, HTTP, notices) converts here.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

__all__ = ["EARLIEST_MS", "LATEST_MS", "iso", "parse_moment"]

#: What a datetime can show: 1970-01-01 to 9999-12-31 (UTC)
EARLIEST_MS, LATEST_MS = 0, 253_402_300_799_000


def iso(ts_ms: int, tz: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset; milliseconds only when there are some. A time no
    calendar holds is shown raw rather than failing the whole answer."""
    spec = "milliseconds" if ts_ms % 1000 else "seconds"
    try:
        return datetime.fromtimestamp(ts_ms / 1000, tz).isoformat(timespec=spec)
    except (OverflowError, OSError, ValueError):
        return f"epoch-ms:{ts_ms}"


def parse_moment(text: str, tz: ZoneInfo) -> int:
    """Epoch ms from epoch milliseconds, or ISO 8601 (a date or a time; without an offset it is
    in ``tz``). Raises ValueError saying what is accepted."""
    text = text.strip()
    digits = text[1:] if text.startswith("-") else text
    if digits.isascii() and digits.isdigit():
        value = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not an ISO 8601 time or epoch milliseconds (e.g. 2026-11-22 or 2026-11-22T08:00:00+08:00)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        value = int(moment.timestamp() * 1000)
    if not EARLIEST_MS <= value <= LATEST_MS:
        raise ValueError(f"{text!r} is outside the years 1970 to 9999")
    return value
