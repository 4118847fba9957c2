"""Period boundaries: where the minute, hour, day and month holding an instant begin and end.

Regulators count days and months in local time (a day is 00:00 to 24:00 in Beijing, not in
UTC), and HJ 212 devices date their hour and day data by the local period start, so every
boundary here is local time in the platform's zone. Pure: epoch ms in, epoch ms out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from forewarn.model import Period

__all__ = ["PARENT", "floor", "next_start", "span"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

#: the period each period's values are combined into
PARENT: dict[Period, Period | None] = {
    Period.MINUTE: Period.HOUR, Period.HOUR: Period.DAY, Period.DAY: Period.MONTH, Period.MONTH: None,
}


def _offset_ms(ts_ms: int, tz: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(ts_ms / 1000, tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1000)


def floor(ts_ms: int, period: Period, tz: ZoneInfo) -> int:
    """The start of the period holding ``ts_ms``."""
    if period is Period.MINUTE:  # every zone's offset is whole minutes
        return ts_ms - ts_ms % MINUTE_MS
    if period is Period.HOUR:
        offset = _offset_ms(ts_ms, tz)
        local = ts_ms + offset
        return local - local % HOUR_MS - offset
    moment = datetime.fromtimestamp(ts_ms / 1000, tz)
    start = moment.replace(day=1 if period is Period.MONTH else moment.day, hour=0, minute=0, second=0,
                           microsecond=0)
    return int(start.timestamp() * 1000)


def next_start(start_ms: int, period: Period, tz: ZoneInfo) -> int:
    """The start of the period after the one beginning at ``start_ms``."""
    if period is Period.MINUTE:
        return start_ms + MINUTE_MS
    if period is Period.HOUR:
        return floor(start_ms + HOUR_MS + HOUR_MS // 2, Period.HOUR, tz)  # robust over a DST hour
    moment = datetime.fromtimestamp(start_ms / 1000, tz)
    if period is Period.DAY:
        # noon of the next day is never ambiguous; its day starts where the next day does
        after = (moment.replace(hour=12) + timedelta(days=1))
        return floor(int(after.timestamp() * 1000), Period.DAY, tz)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(moment.replace(year=year, month=month, day=1, hour=0).timestamp() * 1000)


def span(start_ms: int, end_ms: int, period: Period, tz: ZoneInfo) -> tuple[int, int]:
    """[first, last) bounding exactly the periods that [start_ms, end_ms) touches: ``first`` is
    the start of the period holding ``start_ms``, ``last`` the end of the one holding the range's
    last instant."""
    return floor(start_ms, period, tz), next_start(floor(end_ms - 1, period, tz), period, tz)
