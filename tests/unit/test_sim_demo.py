"""The demo's opening: scheduled incidents land where they show at any hour, and the replayed
history's clock catches up with the present without a jump."""

from __future__ import annotations

from datetime import datetime

import pytest

from forewarn.sim import IncidentKind, IncidentPlanner, load_profiles
from forewarn.sim.demo import UNREGISTERED_DEMO_MN, demo_fleet
from forewarn.sim.planner import Scheduled
from forewarn.sim.rhythm import TZ
from forewarn.sim.runner import SimClock


@pytest.mark.parametrize("hour", [3, 12, 22])
def test_every_opening_incident_happens_at_its_instant_whatever_the_hour(hour: int) -> None:
    profiles = load_profiles()
    live = int(datetime(2024, 11, 20, hour, 0, tzinfo=TZ).timestamp() * 1000)
    opening = profiles.demo.opening
    scheduled = [Scheduled(live + round(o.at_s * 1000), IncidentKind(o.kind), round(o.duration_s * 1000),
                           o.site_types) for o in opening]
    planner = IncidentPlanner(demo_fleet(), profiles.incidents, rate_per_min=0, seed=1,
                              start_ms=live, scheduled=scheduled)
    fleet = {d.mn: d for d in demo_fleet()}
    got = []
    while planner.next_at is not None:
        incident = planner.pop()
        assert incident is not None, "a scheduled incident found no device"
        got.append(incident)
    assert [i.kind.value for i in got] == [o.kind for o in sorted(opening, key=lambda o: o.at_s)]
    for incident, item in zip(got, sorted(opening, key=lambda o: o.at_s), strict=True):
        assert incident.start_ms == live + item.at_s * 1000
        assert incident.end_ms - incident.start_ms == item.duration_s * 1000
        assert incident.mn != UNREGISTERED_DEMO_MN
        if item.site_types:
            assert fleet[incident.mn].site_type in item.site_types
    kinds = {i.kind for i in got}
    assert {IncidentKind.DUST_EXCEED, IncidentKind.FUME_EXCEED, IncidentKind.TREATMENT_OFF,
            IncidentKind.GAS_LEAK, IncidentKind.SILENT} <= kinds


def test_the_replay_clock_catches_up_with_the_present_and_never_jumps() -> None:
    wall = [0.0]
    clock = SimClock(1_000_000, 2.0, lambda: wall[0], history_ms=600_000, replay_speed=62.0)
    assert clock.now_ms() == 400_000 and clock.replaying
    previous = clock.now_ms()
    for step in range(1, 400):
        wall[0] = step * 0.05
        now = clock.now_ms()
        assert 0 <= now - previous <= 0.05 * 62_000 + 1
        previous = now
    assert not clock.replaying
    assert clock.now_ms() == 1_000_000 + int(wall[0] * 2000)  # the plain clock from then on
    # and the way back: the wall time at which a simulated instant comes
    wall[0] = 0.0
    assert clock.wall_delay(400_000 + 62_000) == pytest.approx(1.0)
    assert clock.wall_delay(1_000_000 + 40_000) == pytest.approx(20.0)
