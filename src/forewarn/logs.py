"""Log lines that cannot flood: at most one line per key per interval, every event counted;
and :func:`excerpt`, so a peer's bytes reach a log line or ``forewarn status`` escaped and short."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

__all__ = ["Throttle", "excerpt"]

#: control characters (C0, DEL, C1, line separators, bidirectional overrides) shown as escapes,
#: so a peer cannot move the cursor of the terminal that reads the log, forge a line, or reorder it
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | {
    c: f"\\u{c:04x}" for c in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def excerpt(value: str | bytes, limit: int = 120) -> str:
    """Text from a peer made safe to show: control characters escaped, invalid UTF-8 as
    ``\\xNN``, at most ``limit`` characters, with the full length said when it was cut."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    text = text.translate(_ESCAPES)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(value)} {'bytes' if isinstance(value, bytes) else 'characters'})"


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
