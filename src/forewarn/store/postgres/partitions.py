"""Month partitions of the readings tables, created before a write lands in a month that has none.

A reading whose month has no partition would go to the DEFAULT partition (nothing is ever
refused for its time), which is one table without pruning: a device that sends a year of
backlog, or a clock a month ahead, should land in partitions of their own. So the writer
asks, before each batch, for the months of its readings; the ones this process has not seen
yet are created by ``forewarn_readings_partition`` (migration 0001) in short transactions of
their own, before the batch's transaction, so the DDL's locks are not held while the batch
commits. Months outside [2000, two years from now) are left to the DEFAULT partition: a clock
set to 1970 or 2099 must not create a partition per garbage timestamp.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from forewarn.model import Kind

__all__ = ["Partitions", "month_range"]

_FIRST_MONTH_MS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000)
_AHEAD_MS = 2 * 366 * 86_400_000


def month_range(ts_ms: int) -> tuple[int, int]:
    """[start, end) in epoch ms of the UTC month holding ``ts_ms``."""
    when = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    start = datetime(when.year, when.month, 1, tzinfo=UTC)
    end = datetime(when.year + (when.month == 12), when.month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


class Partitions:
    """The months this process knows to exist, per kind, and the creation of the others."""

    def __init__(self) -> None:
        self._known: dict[Kind, list[tuple[int, int]]] = {kind: [] for kind in Kind}

    def missing(self, kind: Kind, timestamps: list[int]) -> list[int]:
        """A timestamp of each month of ``timestamps`` not known to have a partition yet."""
        known = self._known[kind]
        if not timestamps:
            return []
        lo, hi = min(timestamps), max(timestamps)
        for start, end in known:
            if start <= lo and hi < end:
                return []  # the usual case: a batch of one month already there
        limit = int(time.time() * 1000) + _AHEAD_MS
        months: dict[int, int] = {}
        last: tuple[int, int] = (0, 0)
        for ts in timestamps:
            if last[0] <= ts < last[1] or ts < _FIRST_MONTH_MS or ts >= limit:
                continue
            last = month_range(ts)
            if not any(start == last[0] for start, _ in known):
                months.setdefault(last[0], ts)
        return list(months.values())

    def ensure(self, conn: psycopg.Connection[Any], kind: Kind, timestamps: list[int]) -> list[str]:
        """Create the partitions the months of ``timestamps`` lack; return the names created or found.
        ``conn`` must be outside a transaction (autocommit): each month is its own."""
        names = []
        for ts in self.missing(kind, timestamps):
            row = conn.execute("SELECT forewarn_readings_partition(%s, %s)", (kind.value, ts)).fetchone()
            names.append(str(row[0]) if row else "")
            self._known[kind].append(month_range(ts))
        return names

    def forget(self) -> None:
        """After a lost connection: the server may have been restored from a backup without them."""
        for months in self._known.values():
            months.clear()
