"""Keep the garbage collector's full passes short, for they stop the event loop.

CPython's cyclic collector visits every tracked object on a full (generation 2) pass and holds
the GIL throughout, whichever thread triggered it. With 10,000 devices the platform holds a few
million such objects (the device cache, the rule catalogue, the engine's bindings and state),
and a full pass took 80-200 ms on this project's 2-core machine: every device's answer waited
that long, whether the pass ran on the loop or on a reader thread building a new catalogue.
Profiling a registry edit showed these passes, not the edit's own work, as the loop's longest
stalls once the rebuild had moved to a reader thread.

The objects that live as long as the platform (what start-up and a registry reload build) are
therefore moved to the collector's permanent generation (:func:`gc.freeze`), which full passes
skip; reference counting still frees them when they are dropped (an old catalogue is freed
when the new one is swapped in: it holds no reference cycles). The cost: what is frozen and
later becomes *cyclic* garbage is not collected until :func:`thaw`. A young collection first
(generations 0 and 1, a millisecond or two) leaves little such garbage to freeze, and the
platform thaws all at its stop.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived", "thaw"]

#: full passes are considered after this many generation-1 passes (CPython's default: 10), so
#: that a registry reload's build (a few hundred thousand short-lived rows) does not set one off
#: half-way; young passes, which find nearly all garbage, run as often as before
_FULL_EVERY = 100
_thresholds: list[tuple[int, int, int]] = []


def freeze_long_lived(*, full: bool = False) -> None:
    """Collect young garbage (all garbage with ``full``: at start, where a pause is harmless),
    then move every object alive now out of the collector's future passes."""
    if full:
        gc.collect()
        if not _thresholds:
            _thresholds.append(gc.get_threshold())
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, _FULL_EVERY)
    else:
        gc.collect(1)
    gc.freeze()


def thaw() -> None:
    """Give everything frozen back to the collector, with its usual thresholds (at the platform's stop)."""
    gc.unfreeze()
    if _thresholds:
        gc.set_threshold(*_thresholds.pop())
