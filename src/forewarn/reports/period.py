"""A report's period: a local day, month or year, as people write it and as epoch ms.

Regulators count days, months and years by the devices' local calendar (Asia/Shanghai by
default), not by UTC: a daily report for 2026-10-05 is 00:00 to 24:00 local time. Every
caller (CLI, API, scheduler, the statistics page) names a period the same way here:
``2026-10-05`` (daily), ``2026-10`` (monthly), ``2026`` (annual).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from forewarn.model import ReportKind

__all__ = ["PeriodError", "ReportPeriod", "parse_period", "previous_period"]

_FORMS = {
    ReportKind.DAILY: (re.compile(r"\d{4}-\d{2}-\d{2}\Z"), "YYYY-MM-DD, e.g. 2026-10-05"),
    ReportKind.MONTHLY: (re.compile(r"\d{4}-\d{2}\Z"), "YYYY-MM, e.g. 2026-10"),
    ReportKind.ANNUAL: (re.compile(r"\d{4}\Z"), "YYYY, e.g. 2026"),
}


class PeriodError(ValueError):
    """A period that is not written as its kind needs (the message says the form)."""


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    """One local day, month or year: ``start_ms`` inclusive, ``end_ms`` exclusive."""

    kind: ReportKind
    #: as written: 2026-10-05, 2026-10 or 2026
    label: str
    first: date
    start_ms: int
    end_ms: int

    @property
    def figures_period(self) -> str:
        """The figures' own word for the length: day, month or year."""
        return {ReportKind.DAILY: "day", ReportKind.MONTHLY: "month", ReportKind.ANNUAL: "year"}[self.kind]


def _ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def _next(kind: ReportKind, first: date) -> date:
    if kind is ReportKind.DAILY:
        return first + timedelta(days=1)
    if kind is ReportKind.MONTHLY:
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date(first.year + 1, 1, 1)


def _label(kind: ReportKind, first: date) -> str:
    if kind is ReportKind.DAILY:
        return first.isoformat()
    if kind is ReportKind.MONTHLY:
        return f"{first.year:04d}-{first.month:02d}"
    return f"{first.year:04d}"


def period_of(kind: ReportKind, first: date, tz: ZoneInfo) -> ReportPeriod:
    """The period of ``kind`` that begins on ``first`` (a month's or year's first day)."""
    return ReportPeriod(kind, _label(kind, first), first, _ms(first, tz), _ms(_next(kind, first), tz))


def parse_period(kind: ReportKind | str, text: str, tz: ZoneInfo) -> ReportPeriod:
    """``2026-10`` for a monthly report and so on; anything else is a :class:`PeriodError`."""
    kind = ReportKind(kind)
    pattern, form = _FORMS[kind]
    text = text.strip()
    if not pattern.match(text):
        raise PeriodError(f"a {kind.value} report's period is written {form}, not {text!r}")
    parts = [int(p) for p in text.split("-")]
    try:
        first = date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise PeriodError(f"{text!r} is not a date in the calendar ({form})") from None
    if first.year < 1971:
        raise PeriodError(f"{text!r} lies before 1971")
    return period_of(kind, first, tz)


def previous_period(kind: ReportKind, now_ms: int, tz: ZoneInfo) -> ReportPeriod:
    """The last whole period before ``now_ms``: yesterday, last month, last year (local time)."""
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    if kind is ReportKind.DAILY:
        first = today - timedelta(days=1)
    elif kind is ReportKind.MONTHLY:
        first = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    else:
        first = date(today.year - 1, 1, 1)
    return period_of(kind, first, tz)
