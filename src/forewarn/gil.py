"""Let the event loop that answers devices take the GIL back within a millisecond.

Reader threads (page queries, registry reloads) and the writer run Python while the loop
waits in ``select``. When the loop wakes (a device's frame, a timer) it needs the GIL, and
CPython hands it over only when the holder has run for the *switch interval* (5 ms by
default), and again at each of the loop's own releases (every socket send and receive, every
``select``): one loop iteration that sends a few answers could wait 5 ms several times over
while a reader builds a page. Profiling ``forewarn bench loop`` showed most of the loop's stalls
as exactly that: the loop thread in ``select``'s return, waiting, and a reader building rows.

A 1 ms interval bounds each wait at about a millisecond; threads that run Python for long
(a registry reload, a page of 10,000 sites) are interrupted more often, which costs them a
few per cent of their own time, not the devices' answers.
"""

from __future__ import annotations

import sys

__all__ = ["LOOP_SWITCH_INTERVAL_S", "prefer_the_loop", "restore"]

#: how long a thread may keep the GIL while another waits for it
LOOP_SWITCH_INTERVAL_S = 0.001
_previous: list[float] = []


def prefer_the_loop(interval_s: float = LOOP_SWITCH_INTERVAL_S) -> None:
    """Shorten the switch interval for as long as the platform runs (see :func:`restore`)."""
    if not _previous:
        _previous.append(sys.getswitchinterval())
    sys.setswitchinterval(interval_s)


def restore() -> None:
    """The interval as it was before :func:`prefer_the_loop` (at the platform's stop)."""
    if _previous:
        sys.setswitchinterval(_previous.pop())
