"""One state per site on the map, by a precedence a regulator would agree with."""

from __future__ import annotations

import pytest

from forewarn.site_state import SiteState, site_state


@pytest.mark.parametrize(("status", "alarm_level", "online", "expected"), [
    ("active", None, 2, SiteState.NORMAL),
    ("active", None, 0, SiteState.OFFLINE),
    ("new", None, 0, SiteState.OFFLINE),                # not commissioned yet: nothing is watching it
    ("active", 1, 0, SiteState.ALARM),                  # an alarm wins over a silent device
    ("stopped", 2, 1, SiteState.ALARM),                 # producing during an ordered stop is what is looked for
    ("stopped", None, 0, SiteState.STOPPED),            # a stopped site is not "offline"
    ("maintenance", None, 0, SiteState.MAINTENANCE),
    ("maintenance", None, 3, SiteState.MAINTENANCE),
])
def test_the_state_shown_follows_alarm_stopped_maintenance_offline_normal(
        status: str, alarm_level: int | None, online: int, expected: SiteState) -> None:
    assert site_state(status, alarm_level, online) is expected
