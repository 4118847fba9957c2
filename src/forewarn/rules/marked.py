"""Data marked invalid in audit, as the live rule engine sees it: which readings it must not judge.

Data marked invalid (a calibration's test gas, a maintenance, a faulty sensor, suspected
tampering) is excluded from exceedance judgement. For readings already stored, the statistics
leave it out when they count; for a reading arriving now, the engine is the one that judges, so
it asks here: a reading whose time an invalid mark covers (an open-ended maintenance mark
included) is stored as it came but not judged, and so raises no alarm and moves no rule's state.

The index is pure: ranges in, answers out. The alarm service loads it from the store
(``store.audit_marks``) on a reader thread whenever a mark changes and swaps it in on the loop;
the engine never reads the database.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

__all__ = ["PointKey", "covers"]

#: (device id, code, field): how the engine names a point (of any reading kind)
PointKey = tuple[int, str, str]


def covers(ranges: Sequence[tuple[int, int]], ts: int) -> bool:
    """Whether ``ts`` lies in one of ``ranges`` (sorted, disjoint, half-open)."""
    i = bisect_right(ranges, (ts, 2**63)) - 1
    return i >= 0 and ranges[i][0] <= ts < ranges[i][1]


def marked(index: Mapping[PointKey, Sequence[tuple[int, int]]], key: PointKey, ts: int) -> bool:
    """Whether the point's reading at ``ts`` is marked invalid."""
    ranges = index.get(key)
    return ranges is not None and covers(ranges, ts)
