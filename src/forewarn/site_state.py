"""The one state a site is shown in (a marker's colour on the map), decided once.

A site has a lifecycle status (``SiteStatus``, set by the bureau), devices that are online or
not (:mod:`forewarn.online`) and alarms; the map needs one of them. In order of precedence:

1. **alarm**: an alarm of the site still to be handled (firing, acknowledged, dispatched or
   checked: not yet resolved) and not silenced; its level is the highest such alarm's. It
   wins over everything, stopped included: production during an ordered stop is exactly
   what the electricity rules look for, and a gas leak at a closed station is still a leak.
   A silenced alarm (raised inside a maintenance window) is recorded, not announced, so it
   does not colour the marker either.
2. **stopped**: the bureau stopped the site; its devices are not expected to report.
3. **maintenance**: under maintenance; its data may be missing or unusual.
4. **offline**: none of the site's devices is online (or it has none): nothing is watching it.
5. **normal**: at least one device online, nothing to handle. A site with some devices
   offline is normal here: each silent device raises its own ``dq.nodata`` alarm, and the
   overview gives ``devices_online``/``devices_total`` beside the state.

A ``new`` site (registered, not yet commissioned) is judged like an active one: offline until
its devices report. Retired sites are not shown at all.
"""

from __future__ import annotations

from enum import StrEnum

from forewarn.model import AlarmState, SiteStatus

__all__ = ["UNRESOLVED", "SiteState", "site_state"]

#: the alarm states that still call for someone to act (the ``alarm`` state's alarms)
UNRESOLVED: tuple[str, ...] = (AlarmState.FIRING.value, AlarmState.ACKNOWLEDGED.value,
                               AlarmState.DISPATCHED.value, AlarmState.CHECKED.value)


class SiteState(StrEnum):
    """What the map shows for a site, in order of precedence (see the module's text)."""

    ALARM = "alarm"
    STOPPED = "stopped"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"
    NORMAL = "normal"


def site_state(status: str, alarm_level: int | None, devices_online: int) -> SiteState:
    """The state of a site with lifecycle ``status``, the level of its highest unresolved,
    unsilenced alarm (None: no such alarm) and ``devices_online`` devices online now."""
    if alarm_level is not None:
        return SiteState.ALARM
    if status == SiteStatus.STOPPED:
        return SiteState.STOPPED
    if status == SiteStatus.MAINTENANCE:
        return SiteState.MAINTENANCE
    if devices_online <= 0:
        return SiteState.OFFLINE
    return SiteState.NORMAL
