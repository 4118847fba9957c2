"""ThingsBoard's own device SDK (``tb-mqtt-client`` from PyPI) against the real platform.

Issue 10, item 2: ``TBHTTPDevice.connect()`` posts ``{}`` to the telemetry endpoint and starts
sending its queue only after a 200; forewarn once answered that ``{}`` with 400, so the SDK's
queued telemetry never left. The SDK is driven unchanged, over loopback HTTP, on its own threads.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import httpx
import pytest
from tb_device_http import TBHTTPDevice  # type: ignore[import-untyped]  # the SDK's layout: top-level modules

from forewarn.app import Platform
from tests.integration.api import HECHI_MN, TS_MS, Fleet, rows, run

pytestmark = pytest.mark.integration


def _counter(fleet: Fleet, name: str) -> int:
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    finally:
        db.close()
    return 0 if row is None else int(row[0])


def test_thingsboard_http_sdk_connects_and_its_queued_telemetry_is_stored(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        device = TBHTTPDevice(f"http://127.0.0.1:{platform.http_port}", fleet.device_tokens[HECHI_MN], name="dtu")
        # queued before connecting, as a device that starts offline does
        first = datetime.fromtimestamp(TS_MS / 1000, UTC)  # the SDK stamps a naive time as UTC: give it UTC
        device.send_telemetry({"a34002": 45.2, "a34002-Flag": "N"}, timestamp=first)
        device.send_telemetry({"a34002": 46.0, "a34004-Rtd": "21"},
                              timestamp=datetime.fromtimestamp(TS_MS / 1000 + 60, UTC))
        assert await asyncio.to_thread(device.connect)  # posts {}: answered 200
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while len(rows(fleet.settings, HECHI_MN)) < 3:
            assert loop.time() < deadline, "the SDK's queued telemetry was not stored"
            await asyncio.sleep(0.1)
        queue = device._TBHTTPDevice__worker["publish"]["queue"]  # the SDK's own (name-mangled) queue
        while queue.unfinished_tasks:  # the SDK's queue drains: each post was answered 200
            assert loop.time() < deadline, "the SDK's queue did not drain"
            await asyncio.sleep(0.05)
        # sent at once, not queued: the SDK's direct path
        await asyncio.to_thread(device.send_telemetry, {"a34002": 47.5},
                                datetime.fromtimestamp(TS_MS / 1000 + 120, UTC), False)
        device.stop_publish_worker()

    run(fleet.settings, scenario)
    assert rows(fleet.settings, HECHI_MN) == [
        ("a34002", "Rtd", TS_MS, 45.2, "N"),
        ("a34002", "Rtd", TS_MS + 60_000, 46.0, "N"),
        ("a34002", "Rtd", TS_MS + 120_000, 47.5, "N"),
        ("a34004", "Rtd", TS_MS + 60_000, 21.0, "N"),
    ]
    # connect() and the worker's own start each posted {}: heard, nothing stored for them
    assert _counter(fleet, "http_posts_empty") >= 2
    assert _counter(fleet, "readings_stored") == 4
