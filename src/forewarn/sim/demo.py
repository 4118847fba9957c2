"""What ``forewarn demo`` plays: the seed fleet, one stranger, and an opening that shows every
domain's alarm early.

A five-minute look at a platform should show what it is for. Left to chance, incidents of two
domains turned up in five minutes, and rules that need minutes of data (TSP above its limit for
5 min, treatment off for 10 min) never fired at all. So the demo replays a short history first
and schedules its opening incidents (``[demo]`` in ``profiles.toml``); random ones follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from forewarn.sim.fleet import SimDevice, load_fleet, load_profiles
from forewarn.sim.planner import DEFAULT_INCIDENT_RATE
from forewarn.sim.runner import SimStats, run_simulator

__all__ = ["UNREGISTERED_DEMO_MN", "demo_fleet", "run_demo_simulator"]

#: the demo's deliberately unregistered device: its data waits in quarantine
UNREGISTERED_DEMO_MN = "140213DEMO00UNREGISTERED"


def demo_fleet() -> list[SimDevice]:
    """The seed fleet plus one device nobody registered, to show quarantine."""
    fleet = load_fleet()
    stranger = dataclasses.replace(
        next(d for d in fleet if d.kind == "dust_monitor"), mn=UNREGISTERED_DEMO_MN
    )
    return [*fleet, stranger]


async def run_demo_simulator(
    host: str,
    port: int,
    *,
    start_ms: int,
    duration_s: float | None,
    seed: int | None,
    speed: float,
    log: Callable[[str], None],
) -> SimStats:
    """Play the demo fleet from ``start_ms`` (the platform's now), after replaying its history."""
    demo = load_profiles().demo
    return await run_simulator(
        host, port, duration_s=duration_s, seed=seed, incident_rate=DEFAULT_INCIDENT_RATE,
        speed=speed, devices=demo_fleet(), log=log, start_ms=start_ms,
        history_s=demo.history_s, replay_speed=demo.replay_speed, opening=demo.opening,
    )
