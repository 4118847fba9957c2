"""The platform on a real NATS bus: what one process changes is in force in the others at once.

Each test starts a NATS server of its own (tests/nats_server.py) and platforms on one SQLite
file with ``registry_poll_s`` set to a minute, so anything seen within seconds came by the bus.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forewarn.bus import Delivery, ReadingsCommitted, open_bus, readings_subjects
from forewarn.config import Settings
from tests.integration.harness import FakeDevice, data_packet, register, registry_csv, running, settings_for
from tests.nats_server import NatsServer, free_port, nats_server

pytestmark = pytest.mark.integration

MN_A = "451202A1FE00000000000001"
MN_B = "451202A1FE00000000000002"
POLL_S = 60.0


def settings_on(tmp_path: Path, server: NatsServer, **overrides: object) -> Settings:
    return settings_for(tmp_path, bus=server.url, registry_poll_s=POLL_S, rules_enabled=0, **overrides)


async def until(check: object, timeout: float) -> float:
    """Seconds until ``check()`` held; fails the test after ``timeout``."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def test_a_registry_import_by_the_cli_is_in_force_in_running_platforms_well_before_their_poll(
        tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        settings = settings_on(tmp_path, server)
        register(settings, tmp_path, [{"mn": MN_A}])
        config = tmp_path / "forewarn.toml"
        config.write_text(f'bus = "{server.url}"\n', encoding="utf-8")
        sheet = registry_csv(tmp_path / "more.csv", [{"mn": MN_B, "site": "第二站"}])

        async def run() -> None:
            async with running(settings) as first, running(settings_on(tmp_path, server)) as second:
                assert first.pipeline is not None and second.pipeline is not None
                assert first.pipeline.device(MN_B) is None
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "forewarn", "--data", str(settings.data_dir), "--config", str(config),
                    "registry", "import", str(sheet), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                out, err = await proc.communicate()
                assert proc.returncode == 0, err.decode()
                waited = await until(lambda: all(p.pipeline is not None and p.pipeline.device(MN_B) is not None
                                                 for p in (first, second)), 10)
                assert waited < 5 < POLL_S
                assert first.bus is not None and first.bus.reloads >= 1
                # and the device is judged as registered: its data is stored, not quarantined
                device = await FakeDevice.connect(second.hj212_port)
                await device.send(data_packet(MN_B))
                assert (await device.answer()).cn == "9014"
                await device.close()
                assert second.read_store is not None
                assert second.read_store.quarantine_size() == 0

        asyncio.run(run())


def test_committed_readings_reach_a_consumer_in_another_process_with_their_device(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        settings = settings_on(tmp_path, server)
        register(settings, tmp_path, [{"mn": MN_A}])

        async def run() -> None:
            listener = await open_bus(server.url)
            got: list[ReadingsCommitted] = []
            arrived = asyncio.Event()

            async def handle(d: Delivery) -> None:
                assert isinstance(d.event, ReadingsCommitted)
                got.append(d.event)
                arrived.set()

            await listener.consume("rules", readings_subjects(settings.bus_partitions), handle)
            try:
                async with running(settings) as platform:
                    device = await FakeDevice.connect(platform.hj212_port)
                    await device.send(data_packet(MN_A))
                    assert (await device.answer()).cn == "9014"
                    await device.close()
                    await asyncio.wait_for(arrived.wait(), 10)
            finally:
                await listener.close()
            event = got[0]
            assert (event.mn, event.kind) == (MN_A, "rtd")
            assert [(code, field, value) for code, field, _, value, _ in event.rows] == [("a34002", "Rtd", 45.2)]

        asyncio.run(run())


def test_a_nats_that_dies_costs_no_device_its_answer_and_what_was_told_arrives_after_its_restart(
        tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        settings = settings_on(tmp_path, server)
        register(settings, tmp_path, [{"mn": MN_A}])

        async def run() -> None:
            async with running(settings) as platform:
                assert platform.bus is not None
                server.kill()
                device = await FakeDevice.connect(platform.hj212_port)
                for minute in range(3):
                    await device.send(data_packet(MN_A, f"DataTime=2026112208{minute:02d}00;a34002-Rtd=4{minute}.0"))
                    answer = await asyncio.wait_for(device.answer(), 3)  # NATS is down: answered all the same
                    assert answer.cn == "9014"
                await device.close()
                assert platform.bus.published == 0  # nothing acknowledged while NATS is away
                server.start()
                listener = await open_bus(server.url)
                seen: set[str] = set()

                async def handle(d: Delivery) -> None:
                    seen.add(d.event.id)

                await listener.consume("late", readings_subjects(settings.bus_partitions), handle)
                try:
                    await until(lambda: len(seen) == 3, 15)
                    await until(lambda: platform.bus is not None and platform.bus.published >= 3, 5)
                    assert platform.bus.dropped == 0
                finally:
                    await listener.close()

        asyncio.run(run())


def test_a_platform_told_to_use_a_nats_that_does_not_answer_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "forewarn.toml"
    config.write_text(f'bus = "nats://127.0.0.1:{port}"\nhj212_port = 0\nhttp_port = 0\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "forewarn", "--data", str(tmp_path / "data"), "--config", str(config), "serve"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"forewarn: error: NATS at nats://127.0.0.1:{port} does not answer "
                      f"(ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', {port})); "
                      "start nats-server -js, or set bus = \"memory://\" for one process"], proc.stderr
    assert "Traceback" not in proc.stderr
