"""What every screening check takes and gives: the data it may read, and findings.

A check is a small object with a ``kind`` (the finding's name, stored and shown), its titles
in Chinese and English, and ``find(inp)`` that reads through ``inp`` (the store's screening
reads, scoped to the user) and returns :class:`Found` items. It writes nothing: the service
stores what all checks found in one transaction on the writer thread.

Evidence is a JSON object the auditor reads to judge the finding, with a shape every kind
shares so the dashboard shows any kind without knowing it: ``facts`` (label zh, label en,
value), ``series`` ([ms, value] of the evidence window), optionally ``reference`` (a series
it is compared with: the neighbours' median), ``lines`` (levels drawn across: the bounds, a
tolerance) and ``unit``; plus whatever the kind adds (its neighbours, its counts).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from forewarn.access.scope import Scope
from forewarn.model import AuditReason
from forewarn.stats.checks.thresholds import Thresholds
from forewarn.store.screening import ScreenedPoint

__all__ = ["Check", "CheckInput", "Found", "fact", "thin"]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: the most [ms, value] pairs a finding's evidence series keeps (a chart, not the data)
MAX_SERIES = 240


@dataclass(frozen=True)
class CheckInput:
    """One screening's window and what the checks may read: a read connection, the user's
    scope, the thresholds, the points in scope (loaded once for every check)."""

    db: sqlite3.Connection
    scope: Scope
    from_ms: int
    to_ms: int
    thresholds: Thresholds
    tz: ZoneInfo
    points: list[ScreenedPoint]


@dataclass
class Found:
    """One finding as a check states it; the service keys, stores and merges it."""

    kind: str
    site_id: int
    start_ms: int
    end_ms: int
    summary_en: str
    summary_zh: str
    evidence: dict[str, Any] = field(default_factory=dict)
    device_id: int | None = None
    point_id: int | None = None

    @property
    def target(self) -> str:
        """The finding's subject as a key: its point, else its device, else its site."""
        if self.point_id is not None:
            return f"point:{self.point_id}"
        if self.device_id is not None:
            return f"device:{self.device_id}"
        return f"site:{self.site_id}"


class Check(Protocol):
    """A kind of doubtful data and how to find it."""

    kind: str
    title_zh: str
    title_en: str
    #: the reason an audit mark made from this kind's finding gives
    reason: AuditReason
    #: how far before the window the check reads (a flat line that began yesterday)
    lookback_ms: int

    def find(self, inp: CheckInput) -> list[Found]: ...


def fact(zh: str, en: str, value: object) -> dict[str, object]:
    """One line of a finding's evidence: its label in both languages and its value."""
    return {"zh": zh, "en": en, "value": value}


def thin(pairs: list[tuple[int, float]], most: int = MAX_SERIES) -> list[list[float]]:
    """At most ``most`` [ms, value] pairs, every n-th one, keeping the first and last."""
    if len(pairs) <= most:
        return [[t, v] for t, v in pairs]
    step = len(pairs) / (most - 1)
    picked = [pairs[int(i * step)] for i in range(most - 1)] + [pairs[-1]]
    return [[t, v] for t, v in picked]
