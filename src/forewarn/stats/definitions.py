"""The figures' formulas and the words they rest on, each once (pure: numbers in, numbers out).

``stats/figures.py`` gathers the counts; the arithmetic is here so that the worked examples in
``docs/statistics.md`` can be checked against one function each, and so that no page, report or
command computes a rate its own way.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from statistics import median

from forewarn.model import SiteStatus

__all__ = ["ASSESSMENT_LINE", "SITE_STATUSES_DUE", "due_spans", "max_multiple", "mean", "measure", "med", "rate",
           "records_due", "covers"]

#: The effective transmission rate is assessed against >= 90 % (DOMAIN.md §4, the assessment
#: line regulators' platforms use) [sec]; the setting ``stats_assessment_line`` overrides it.
ASSESSMENT_LINE = 0.9

#: A site is due to report (its devices' records are due, it must be connected) while it is
#: new or active; not while in maintenance, stopped (停产) or retired. The overview's tiles
#: leave out the same sites (stopped, maintenance) from "expected".
SITE_STATUSES_DUE = frozenset({SiteStatus.NEW.value, SiteStatus.ACTIVE.value})


def rate(part: float, whole: float) -> float | None:
    """``part / whole`` rounded to 4 places; None when nothing was due (``whole`` is 0)."""
    return round(part / whole, 4) if whole else None


def records_due(due_ms: int, interval_s: int) -> int:
    """Records one point owes over ``due_ms`` of due time: one per reporting interval begun
    and ended inside it (a 60 s device due for 24 h owes 1440)."""
    return max(0, due_ms) // (max(1, interval_s) * 1000)


def max_multiple(maximum: float | None, limit: float | None) -> float | None:
    """(max - limit) / limit: how far beyond its limit the highest value went (0.5: half as
    much again). None without a positive limit or when the maximum is not beyond it."""
    if maximum is None or limit is None or limit <= 0 or maximum <= limit:
        return None
    return round((maximum - limit) / limit, 4)


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def med(values: Sequence[float]) -> float | None:
    return round(float(median(values)), 1) if values else None


Span = tuple[int, int]


def due_spans(current: str, changes: Sequence[tuple[int, str | None, str]], start_ms: int, end_ms: int
              ) -> list[Span]:
    """The stretches of [start_ms, end_ms) in which a site was due (new or active), from its
    status now and its changes ``(effective_ms, previous, status)`` in the order they took
    effect. Before the first change the site had that change's previous status; a first change
    without one created the site (not due before it). Without changes the site has had its
    status now all along."""
    if not changes:
        return [(start_ms, end_ms)] if current in SITE_STATUSES_DUE and end_ms > start_ms else []
    out: list[Span] = []
    status = changes[0][1] if changes[0][1] is not None else ""  # created by its first change
    t = start_ms
    for effective, _previous, new in changes:
        if effective > t:
            b = min(effective, end_ms)
            if status in SITE_STATUSES_DUE and b > t:
                out.append((t, b))
            t = max(t, effective)
        status = new
        if t >= end_ms:
            break
    if t < end_ms and status in SITE_STATUSES_DUE:
        out.append((t, end_ms))
    merged: list[Span] = []
    for a, b in out:
        if merged and merged[-1][1] >= a:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def measure(spans: Sequence[Span], start_ms: int, end_ms: int) -> int:
    """How much of [start_ms, end_ms) the sorted disjoint ``spans`` cover."""
    return sum(max(0, min(b, end_ms) - max(a, start_ms)) for a, b in spans)


def covers(spans: Sequence[Span], at_ms: int) -> bool:
    """Whether ``at_ms`` lies in one of the sorted disjoint ``spans``."""
    i = bisect_right([a for a, _ in spans], at_ms) - 1
    return i >= 0 and spans[i][0] <= at_ms < spans[i][1]
