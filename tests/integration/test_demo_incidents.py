"""Each incident the demo's simulator injects raises the expected alarm, on the real platform."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from forewarn.alarms.queries import list_alarms
from forewarn.app import Platform
from forewarn.cli.common import open_store
from forewarn.cli.registry import import_files
from forewarn.sim import Incident, IncidentKind, fleet_files, fleet_regions_file, load_fleet, render
from tests.integration.harness import FakeDevice, settings_for

# a Tuesday morning, when factories produce and kitchens prepare lunch
START = int(datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * 1000)


class Clock:
    """The platform's clock, moved by the test (the only thing mocked)."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


#: the alarm each domain's incident must raise (either power rule: one treatment-off incident
#: may be told by the early-stop rule, by the 10-minute rule, or by one that merges them)
POWER_RULES = frozenset({"power.early_stop", "power.treatment_off"})
DOMAIN_RULES = {
    "gas leak": frozenset({"gas.lel"}),
    "dust over the limit": frozenset({"dust.tsp_high", "dust.pm10_hours"}),
    "oil fume": frozenset({"fume.limit", "fume.fan_without_purifier"}),
    "treatment off": POWER_RULES,
    "device silent": frozenset({"dq.nodata"}),
}


@pytest.mark.parametrize(
    ("kind", "device_kind", "target", "level", "rules", "within_s"),
    [
        (IncidentKind.GAS_LEAK, "gas_station_rtu", "GD2", 40.0, {"gas.lel"}, 60),
        (IncidentKind.TREATMENT_OFF, "power_meter", "", 0.0, POWER_RULES, 60),
        (IncidentKind.FUME_EXCEED, "fume_monitor", "", 3.5, {"fume.limit"}, 120),
        (IncidentKind.PURIFIER_OFF, "fume_monitor", "", 0.0, {"fume.fan_without_purifier"}, 120),
        (IncidentKind.DUST_EXCEED, "dust_monitor", "", 400.0, {"dust.tsp_high"}, 360),
        (IncidentKind.SILENT, "dust_monitor", "", 0.0, {"dq.nodata"}, None),
    ],
)
def test_incident_raises_its_alarm(tmp_path: Path, kind: IncidentKind, device_kind: str, target: str,
                                   level: float, rules: set[str], within_s: int | None) -> None:
    settings = settings_for(tmp_path)
    import_files(settings, [fleet_regions_file(), *fleet_files()])
    device = next(d for d in load_fleet() if d.kind == device_kind)
    incident = Incident(kind, device.mn, device.site, START + 5 * 60_000, START + 30 * 60_000, target, level)
    clock = Clock(START)

    async def scenario() -> int | None:
        platform = Platform(settings, clock=clock)
        await platform.start()
        try:
            dev = await FakeDevice.connect(platform.hj212_port)
            step = device.interval_s * 1000
            ms = START
            while ms <= incident.start_ms + max(3 * 60, within_s or 0) * 1000:
                clock.ms = ms
                for packet in render(device, ms, [incident]):
                    await dev.send(packet.frame)
                    await dev.answer()
                await asyncio.sleep(0.3 if kind is IncidentKind.SILENT and ms > incident.start_ms else 0)
                ms += step
            await asyncio.sleep(1.0)
            await dev.close()
        finally:
            await platform.stop()
        store = open_store(settings)
        try:
            alarms = list_alarms(store.db)
        finally:
            store.close()
        assert not [a["rule_id"] for a in alarms if a["rule_id"] == "dq.jump"], "the incident looked like bad data"
        found = [a for a in alarms if a["rule_id"] in rules and a["mn"] == device.mn]
        return found[0]["first_ts"] if found else None

    first_ts = asyncio.run(scenario())
    assert first_ts is not None, f"{kind} raised none of {sorted(rules)}"
    if within_s is not None:
        assert first_ts - incident.start_ms <= within_s * 1000, f"the alarm came more than {within_s} s after the incident"
