"""The event loop that answers devices stays free while people edit the registry; refusals say what was refused."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable

import httpx

from forewarn.app import Platform
from tests.integration.api import HECHI_MN, HECHI_MN2, TS_MS, Fleet, assert_problem, bearer, fleet, run
from tests.integration.harness import FakeDevice, data_packet

__all__ = ["fleet"]

#: how long the gated reload waits for the test (a loop that is blocked never lets it go)
GATE_S = 5.0


def _packet(n: int) -> bytes:
    stamp = f"20261122{8 + n // 3600:02d}{n // 60 % 60:02d}{n % 60:02d}"
    return data_packet(HECHI_MN2, f"DataTime={stamp};a34002-Rtd={40 + n % 7}.5,a34002-Flag=N")


def test_devices_are_answered_while_a_registry_edit_reloads(fleet: Fleet) -> None:
    """A registry reload is held half-way (as building the catalogue of a big registry holds it
    for most of a second); meanwhile a device's packets must still get their 9014s, and the
    edit's answer must come only once the reload is in force. A reload that ran on the loop
    would hold the device too: no answers until the gate gives up."""

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        found = (await client.get("/api/v1/devices", params={"mn": HECHI_MN}, headers=city)).json()["items"]
        device_id = found[0]["id"]
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(_packet(0))
        assert (await dev.answer()).cn == "9014"

        entered, release = threading.Event(), threading.Event()
        gave_up: list[bool] = []

        def held(db: sqlite3.Connection) -> Callable[[], None]:
            entered.set()
            gave_up.append(not release.wait(GATE_S))
            return lambda: None

        pipeline = platform.pipeline
        assert pipeline is not None
        pipeline.registry_loaders.append(held)
        loop = asyncio.get_running_loop()
        edit = asyncio.create_task(client.patch(f"/api/v1/devices/{device_id}", json={"password": "changed-pw"},
                                                headers=city))
        assert await loop.run_in_executor(None, entered.wait, GATE_S), "the edit started no reload"
        answers = []
        for n in range(1, 6):
            await dev.send(_packet(n))
            answers.append((await dev.answer(timeout=GATE_S * 2)).cn)
        reloading = not release.is_set() and not gave_up and not edit.done()
        release.set()
        response = await edit
        await dev.close()

        assert answers == ["9014"] * 5
        assert reloading, "the device was answered only after the reload (it ran on the loop)"
        assert gave_up == [False]
        assert response.status_code == 200, response.text
        # the edit answered after its reload was in force: the new password is the one checked
        device = pipeline.device(HECHI_MN)
        assert device is not None and device.password == "changed-pw"

    run(fleet.settings, scenario)


def test_edits_arriving_together_share_reloads_and_each_sees_its_own(fleet: Fleet) -> None:
    """Ten edits at once: every answer comes after a reload that includes its own change."""

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        found = (await client.get("/api/v1/devices", params={"mn": HECHI_MN2}, headers=city)).json()["items"]
        device_id = found[0]["id"]
        pipeline = platform.pipeline
        assert pipeline is not None

        async def edit(n: int) -> None:
            response = await client.patch(f"/api/v1/devices/{device_id}", json={"interval_s": 60 + n}, headers=city)
            assert response.status_code == 200, response.text
            device = pipeline.device(HECHI_MN2)
            assert device is not None and device.interval_s >= 60  # never the registry before this edit

        await asyncio.gather(*(edit(n) for n in range(10)))
        device = pipeline.device(HECHI_MN2)
        stored = (await client.get(f"/api/v1/devices/{device_id}", headers=city)).json()["interval_s"]
        assert device is not None and device.interval_s == stored

    run(fleet.settings, scenario)


def test_an_enterprise_user_refused_at_ingest_is_told_what_was_refused(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        batch = {"readings": [{"mn": HECHI_MN, "code": "a34002", "field": "Rtd", "kind": "rtd", "ts": TS_MS,
                               "value": 1.0, "flag": "N"}]}
        problem = assert_problem(await client.post("/api/v1/ingest", json=batch, headers=bearer(fleet.tokens["gasco"])),
                                 403)
        detail = str(problem["detail"])
        assert "write registry" not in detail
        assert "send readings" in detail and "administrator" in detail and "telemetry" in detail

    run(fleet.settings, scenario)
