"""Log lines that cannot flood: at most one line per key per interval, every event counted."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Logs the first event of a key, then at most one per ``every_s``, with the running count.

    A device that sends garbage ten times a second must not bury the log; the count in each
    line still tells how many there were.
    """

    def __init__(
        self, logger: logging.Logger, every_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.every_s = every_s
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._last: dict[str, float] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        self.counts[key] += 1
        now = self.clock()
        last = self._last.get(key)
        if last is None or now - last >= self.every_s:
            self._last[key] = now
            self.logger.warning(message + " (%d so far)", *args, self.counts[key])
