"""Period boundaries in local time: Beijing's days start at 16:00 UTC; a DST zone's day is 23 or
25 hours long and its hours still start on the hour; months end where the calendar says."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from forewarn.model import Period
from forewarn.stats.periods import floor, next_start, span

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def ms(tz: ZoneInfo, *parts: int) -> int:
    return int(datetime(*parts, tzinfo=tz).timestamp() * 1000)  # type: ignore[misc]


def test_a_beijing_day_and_month_start_at_local_midnight() -> None:
    t = ms(SHANGHAI, 2026, 3, 2, 7, 59, 30)
    assert floor(t, Period.DAY, SHANGHAI) == ms(SHANGHAI, 2026, 3, 2)
    assert floor(t, Period.MONTH, SHANGHAI) == ms(SHANGHAI, 2026, 3, 1)
    assert floor(t, Period.HOUR, SHANGHAI) == ms(SHANGHAI, 2026, 3, 2, 7)
    assert floor(t, Period.MINUTE, SHANGHAI) == ms(SHANGHAI, 2026, 3, 2, 7, 59)
    assert next_start(ms(SHANGHAI, 2026, 2, 1), Period.MONTH, SHANGHAI) == ms(SHANGHAI, 2026, 3, 1)
    assert next_start(ms(SHANGHAI, 2026, 12, 1), Period.MONTH, SHANGHAI) == ms(SHANGHAI, 2027, 1, 1)


def test_a_dst_day_is_23_hours_long_and_its_hours_start_on_the_hour() -> None:
    day = ms(BERLIN, 2026, 3, 29)  # clocks go from 02:00 to 03:00
    assert (next_start(day, Period.DAY, BERLIN) - day) // 3_600_000 == 23
    assert next_start(ms(BERLIN, 2026, 3, 29, 1), Period.HOUR, BERLIN) == ms(BERLIN, 2026, 3, 29, 3)
    assert (next_start(ms(BERLIN, 2026, 10, 25), Period.DAY, BERLIN) - ms(BERLIN, 2026, 10, 25)) // 3_600_000 == 25


def test_a_half_hour_zone_keeps_local_hours() -> None:
    t = ms(KOLKATA, 2026, 3, 2, 10, 45)
    assert floor(t, Period.HOUR, KOLKATA) == ms(KOLKATA, 2026, 3, 2, 10)


def test_a_range_spans_exactly_the_periods_it_touches() -> None:
    t = ms(SHANGHAI, 2026, 3, 2, 6, 30, 15)
    assert span(t, t + 1, Period.MINUTE, SHANGHAI) == (ms(SHANGHAI, 2026, 3, 2, 6, 30), ms(SHANGHAI, 2026, 3, 2, 6, 31))
    assert span(ms(SHANGHAI, 2026, 3, 2, 6), ms(SHANGHAI, 2026, 3, 2, 8), Period.HOUR, SHANGHAI) == (
        ms(SHANGHAI, 2026, 3, 2, 6), ms(SHANGHAI, 2026, 3, 2, 8))  # the end is not included
