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


@pytest.mark.parametrize(
    ("kind", "device_kind", "target", "level", "rule"),
    [
        (IncidentKind.GAS_LEAK, "gas_station_rtu", "GD2", 40.0, "gas.lel"),
        (IncidentKind.TREATMENT_OFF, "power_meter", "", 0.0, "power.early_stop"),
        (IncidentKind.FUME_EXCEED, "fume_monitor", "", 3.5, "fume.limit"),
        (IncidentKind.SILENT, "dust_monitor", "", 0.0, "dq.nodata"),
    ],
)
def test_incident_raises_its_alarm(tmp_path: Path, kind: IncidentKind, device_kind: str, target: str,
                                   level: float, rule: str) -> None:
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
            while ms <= incident.start_ms + 3 * 60_000:
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
            found = [a for a in list_alarms(store.db) if a["rule_id"] == rule and a["mn"] == device.mn]
        finally:
            store.close()
        return found[0]["first_ts"] if found else None

    first_ts = asyncio.run(scenario())
    assert first_ts is not None, f"{kind} raised no {rule} alarm"
    if kind is not IncidentKind.SILENT:
        assert first_ts - incident.start_ms <= 60_000, "the alarm came more than a minute after the incident"
