"""The figures of reports of closed periods, kept a few minutes in memory.

A month's report of a city reads its figures in one pass (about half a second of CPU with
10,000 devices, more on a busy machine), and the statistics page asks for the same report
again and again within minutes: when its language is switched, when the XLSX or the
printable page is downloaded after it was looked at, when a colleague opens the same
address. The rows of a period that has ended change only when its data does (late data, an
audit mark, an alarm closed), so they are kept for :data:`TTL_S`: such a change shows in the
report within that time. A period still running is never kept (its figures move with every
reading).

The key holds the user's scope as well as the report: two users with different reach never
share rows, even though the rows of one subject are the same for everyone allowed to read it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from forewarn.stats.figures import FigureRow

__all__ = ["MAX_REPORTS", "TTL_S", "FigureCache"]

#: how long a closed period's figures are kept (seconds)
TTL_S = 300.0
#: how many reports' figures are kept at most (the least recently used go first)
MAX_REPORTS = 64

Rows = dict[str, list[FigureRow]]


class FigureCache:
    """``key`` -> a report's figure rows by read; thread-safe (reader threads fill it)."""

    def __init__(self, ttl_s: float = TTL_S, max_reports: int = MAX_REPORTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_reports = max_reports
        self.clock = clock
        self._kept: OrderedDict[Hashable, tuple[float, Rows]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Rows | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            if self.clock() - found[0] > self.ttl_s:
                del self._kept[key]
                return None
            self._kept.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, rows: Rows) -> None:
        with self._lock:
            self._kept[key] = (self.clock(), rows)
            self._kept.move_to_end(key)
            while len(self._kept) > self.max_reports:
                self._kept.popitem(last=False)
