"""A latency histogram with fixed buckets, in the shape Prometheus reads (cumulative buckets, sum, count).

Written by one thread (e.g. the store's writer), read by another (the metrics endpoint): each
observation updates plain integers and floats, and a reader may see one observation half
counted, which a monitoring graph does not notice.
"""

from __future__ import annotations

import bisect

__all__ = ["DEFAULT_BUCKETS_S", "Histogram"]

#: from a millisecond (a small commit) to 5 s (a disk in trouble)
DEFAULT_BUCKETS_S: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS_S) -> None:
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self._counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs, ``le`` as Prometheus writes it, the last ``+Inf``."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip([*(f"{b:g}" for b in self.buckets), "+Inf"], self._counts, strict=True):
            running += n
            out.append((bound, running))
        return out
