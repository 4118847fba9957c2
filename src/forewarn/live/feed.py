"""What goes on the live stream, and when: readings after their commit, device online/offline
changes, and every alarm step.

- **readings** come from the pipeline's commit callback (``Pipeline.on_committed``), so the
  stream never shows data the store does not hold; a batch's rows become one event per device
  and kind.
- **device** status is compared once a second with the pipeline's ``last_seen`` (offline when
  silent ``offline_after_intervals`` reporting intervals, as ``forewarn status`` counts it);
  only changes are published, and the first look after start publishes nothing.
- **alarm** events tail ``alarm_steps`` (``WHERE id > last``, the primary key) on the read
  connection: every step of every alarm is a row there, whoever took it (the rule engine, the
  HTTP API, or ``forewarn alarms`` from another process). A commit that carried rule events
  triggers a look at once; the periodic look catches the rest within a second.

Every event carries the site's region code and enterprise id, so the web layer can apply the
subscriber's scope; an event whose site is unknown is not published at all.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.live.hub import LiveEvent, LiveHub
from forewarn.online import is_online
from forewarn.store.base import DeviceInfo, IngestBatch
from forewarn.store.sqlite import SqliteStore
from forewarn.times import iso

__all__ = ["DeviceSite", "LiveFeed"]

log = logging.getLogger(__name__)

#: alarm steps published per look (a backlog is worked off a batch per tick)
_STEPS_PER_LOOK = 500
#: readings per event: a 10,000-reading HTTP ingest becomes ten messages, not one of a megabyte
READINGS_PER_EVENT = 1000

_DEVICES_SQL = (
    "SELECT d.id, d.mn, d.interval_s, s.id, s.name, s.region_code, s.enterprise_id "
    "FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.status = 'active'"
)
_STEPS_SQL = (
    "SELECT st.id, st.alarm_id, st.step, st.actor, st.at_ms, st.note, a.rule_id, a.level, a.state, a.mn, "
    "a.site_id, a.site, COALESCE(s.region_code, a.region_code), s.enterprise_id, a.title_zh, a.title_en, "
    "a.explanation_zh, a.explanation_en FROM alarm_steps st JOIN alarms a ON a.id = st.alarm_id "
    "LEFT JOIN sites s ON s.id = a.site_id WHERE st.id > ? ORDER BY st.id LIMIT ?"
)

#: the state each handling step leads to (steps not named here leave the state as it was)
_STATE_AFTER = {"fired": "firing", "reopened": "firing", "acknowledged": "acknowledged", "dispatched": "dispatched",
                "checked": "checked", "resolved": "resolved", "closed": "closed"}


@dataclass(frozen=True, slots=True)
class DeviceSite:
    """A device as the stream names and scopes it."""

    mn: str
    interval_s: int
    site_id: int
    site: str
    region_code: str | None
    enterprise_id: int | None


class LiveFeed:
    """Turns the platform's activity into :class:`LiveEvent` s on a hub (on the event loop)."""

    def __init__(
        self,
        hub: LiveHub,
        store: SqliteStore,
        tz: ZoneInfo,
        *,
        last_seen: dict[int, int],
        now_ms: Callable[[], int],
        offline_after_intervals: float,
    ) -> None:
        self.hub = hub
        self.store = store  # the read connection: queries only
        self.tz = tz
        self.last_seen = last_seen  # the pipeline's own dict, updated as packets arrive
        self.now_ms = now_ms
        self.offline_after_intervals = offline_after_intervals
        self.devices: dict[int, DeviceSite] = {}
        #: the devices' ids in a fixed order, so that the periodic look can take them a part at a time
        self._ids: list[int] = []
        #: device id -> online at the last look (absent: not looked at yet)
        self.online: dict[int, bool] = {}
        self.last_step_id = 0

    def start(self) -> None:
        """Load the devices, look at their status once (publishing nothing) and skip the
        alarm history: the stream starts now."""
        self.reload_devices()
        self.check_devices()
        row = self.store.db.execute("SELECT COALESCE(MAX(id), 0) FROM alarm_steps").fetchone()
        self.last_step_id = int(row[0])

    def reload_devices(self, _devices: dict[str, DeviceInfo] | None = None) -> None:
        """(Re)load the device → site map here and now (at start)."""
        self.load_devices(self.store.db)()

    def load_devices(self, db: sqlite3.Connection) -> Callable[[], None]:
        """A ``Pipeline.registry_loaders`` entry: read the device → site map with ``db`` (on a
        reader thread: 10,000 rows take tens of ms) and return what puts it in force."""
        devices = {
            int(dev_id): DeviceSite(mn, int(interval), int(site_id), site, region, enterprise)
            for dev_id, mn, interval, site_id, site, region, enterprise in db.execute(_DEVICES_SQL)
        }

        ids = list(devices)
        # the devices gone since the map in force (replaced whole, never changed: safe to read
        # here), found here rather than by comparing 10,000 keys on the loop
        gone = list(self.devices.keys() - devices.keys())

        def swap() -> None:
            self.devices = devices
            self._ids = ids
            for device_id in gone:
                self.online.pop(device_id, None)

        return swap

    # ------------------------------------------------------------------ readings

    def on_committed(self, batch: IngestBatch) -> None:
        """A ``Pipeline.on_committed`` listener: the batch is in the store now."""
        if batch.rule_events:
            self.check_alarms()
        if not batch.readings or not self.hub.has_subscribers():
            return
        grouped: dict[tuple[int, str], list[dict[str, Any]]] = {}
        tz = self.tz
        for part in batch.readings:
            rows = grouped.setdefault((part.device_id, part.kind.value), [])
            rows += [{"code": code, "field": field, "ts": iso(ts, tz), "value": value, "flag": flag}
                     for code, field, ts, value, flag in part.rows]
        for (device_id, kind), readings in grouped.items():
            dev = self.devices.get(device_id)
            if dev is None:  # unknown here: it cannot be scoped, so it is not shown
                continue
            for at in range(0, len(readings), READINGS_PER_EVENT):
                self.hub.publish(LiveEvent.of(
                    "readings", {"mn": dev.mn, "site_id": dev.site_id, "site": dev.site, "kind": kind,
                                 "readings": readings[at:at + READINGS_PER_EVENT]},
                    site_id=dev.site_id, region_code=dev.region_code, enterprise_id=dev.enterprise_id,
                ))

    # ------------------------------------------------------------------ devices

    def check_devices(self, part: int = 0, parts: int = 1) -> None:
        """Publish the devices whose online/offline status changed since the last look: all of
        them, or every ``parts``-th from the ``part``-th (:meth:`run` looks at a tenth of them
        every tenth of the period: 10,000 devices at once held the loop for 5-10 ms)."""
        now = self.now_ms()
        factor = self.offline_after_intervals
        devices = self.devices
        for device_id in self._ids[part::parts] if parts > 1 else self._ids:
            dev = devices.get(device_id)
            if dev is None:
                continue
            last = self.last_seen.get(device_id)
            online = is_online(last, dev.interval_s, now, factor)
            before = self.online.get(device_id)
            self.online[device_id] = online
            if before is None or before == online:
                continue
            self.hub.publish(LiveEvent.of(
                "device", {"mn": dev.mn, "site_id": dev.site_id, "site": dev.site,
                           "status": "online" if online else "offline",
                           "last_seen": iso(last, self.tz) if last is not None else None},
                site_id=dev.site_id, region_code=dev.region_code, enterprise_id=dev.enterprise_id,
            ))

    # ------------------------------------------------------------------ alarms

    def check_alarms(self) -> None:
        """Publish the alarm steps recorded since the last look (by any process)."""
        tz = self.tz
        rows = self.store.db.execute(_STEPS_SQL, (self.last_step_id, _STEPS_PER_LOOK)).fetchall()
        for (step_id, alarm_id, step, actor, at_ms, note, rule_id, level, state, mn, site_id, site, region,
             enterprise_id, title_zh, title_en, expl_zh, expl_en) in rows:
            self.last_step_id = int(step_id)
            # the state this step led to: the alarm's current state may be several steps further on
            state = _STATE_AFTER.get(step, state)
            self.hub.publish(LiveEvent.of(
                "alarm", {"alarm_id": alarm_id, "event": step, "rule_id": rule_id, "level": level, "state": state,
                          "mn": mn, "site_id": site_id, "site": site, "title": {"zh": title_zh, "en": title_en},
                          "explanation": {"zh": expl_zh, "en": expl_en}, "at": iso(at_ms, tz), "actor": actor,
                          "note": note},
                site_id=site_id, region_code=region or None, enterprise_id=enterprise_id,
            ))

    # ------------------------------------------------------------------ the clock

    async def run(self, every_s: float = 1.0, parts: int = 10) -> None:
        """Look at each device's status and at new alarm steps every ``every_s`` until cancelled;
        the devices ``parts`` at a time, spread over the period (each still once a period)."""
        part = 0
        while True:
            await asyncio.sleep(every_s / parts)
            try:
                self.check_devices(part, parts)
                if part == parts - 1:
                    self.check_alarms()
            except Exception:
                log.exception("the live stream's periodic look failed; will retry")
            part = (part + 1) % parts
