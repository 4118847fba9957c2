"""Runs of single points combined into what a timeline shows: an equipment's ON/OFF bands and
a device's online intervals.

An equipment (a composite rule's operand) is ON while any of its points reads above the
operand's ``on_above`` (as the engine judges it), OFF while at least one of its points is
known and none is ON, and not known while none of them reports. A device is online while any
of its readings is at most ``offline_after_intervals`` intervals old. Pure: runs in, bands out.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Run", "any_on", "union"]

#: (start ms, end ms, on)
Run = tuple[int, int, bool]


def any_on(runs_per_point: Iterable[list[Run]]) -> list[Run]:
    """The combined state of several points: ON if any is on, OFF if some are known and none
    is on; stretches where no point is known are left out. Adjacent equal stretches merge."""
    deltas: dict[int, list[int]] = {}  # time -> [change in points known, change in points on]
    for point_runs in runs_per_point:
        for a, b, on in point_runs:
            if b <= a:
                continue
            for t, sign in ((a, 1), (b, -1)):
                d = deltas.setdefault(t, [0, 0])
                d[0] += sign
                d[1] += sign if on else 0
    out: list[Run] = []
    known = on_count = 0
    cuts = sorted(deltas)
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        known += deltas[lo][0]
        on_count += deltas[lo][1]
        if known <= 0:
            continue
        on = on_count > 0
        if out and out[-1][1] == lo and out[-1][2] == on:
            out[-1] = (out[-1][0], hi, on)
        else:
            out.append((lo, hi, on))
    return out


def union(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching intervals merged, in order."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
