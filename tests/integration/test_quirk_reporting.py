"""Tolerated HJ 212 deviations are counted per device and shown; a deployer can make a device strict."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from forewarn.app import Platform
from forewarn.cli.common import open_store
from forewarn.model import Kind
from forewarn.protocols.hj212.crc import hj212_crc, modbus_crc, swap_bytes
from tests.integration.api import HECHI_MN, Fleet, assert_problem, bearer, run
from tests.integration.harness import FakeDevice, register, running, segment, settings_for

pytestmark = pytest.mark.integration


def _lowercase_crc_frame(mn: str, minute: int) -> bytes:
    """A 13-digit QN and a lowercase CRC: both tolerated by default."""
    for value in range(100):  # a value whose CRC has a letter in it, so that case shows
        seg = segment(mn, f"DataTime=202611220{minute}0000;a34002-Rtd={value}", qn="1617957600465").encode()
        crc = b"%04x" % hj212_crc(seg)
        if crc != crc.upper():
            return b"##%04d%s%s\r\n" % (len(seg), seg, crc)
    raise AssertionError("no CRC with a letter")


def _swapped_modbus_frame(mn: str) -> bytes:
    seg = segment(mn, "DataTime=20261122090000;a34002-Rtd=1").encode()
    return b"##%04d%s%04X\r\n" % (len(seg), seg, swap_bytes(modbus_crc(seg)))


def _unknown_crc_frame(mn: str) -> bytes:
    seg = segment(mn, "DataTime=20261122091000;a34002-Rtd=2").encode()
    known = {hj212_crc(seg), modbus_crc(seg), swap_bytes(modbus_crc(seg))}
    crc = next(c for c in range(0x1234, 0x2000) if c not in known)  # matches no known algorithm
    return b"##%04d%s%04X\r\n" % (len(seg), seg, crc)


def test_quirks_are_counted_per_device_and_a_device_made_strict_refuses_them(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(_lowercase_crc_frame(HECHI_MN, 1))
        assert (await dev.answer()).cn == "9014"  # the default: stored and answered
        [listed] = (await client.get("/api/v1/devices", params={"mn": HECHI_MN}, headers=city)).json()["items"]
        assert listed["quirks_tolerated"] == "crc_lowercase=1|qn_format=1"  # the dashboard's column
        # another algorithm's CRC is not tolerated by default; one matching none is never accepted
        await dev.send(_swapped_modbus_frame(HECHI_MN))
        await dev.send(_unknown_crc_frame(HECHI_MN))
        assert (await dev.answer()).params == {"QnRtn": "9"}  # only the CRC error is answered
        await dev.no_answer()

        # the deployer makes this one device strict, through the registry's one use case
        bad = await client.patch(f"/api/v1/devices/{listed['id']}", json={"leniency": "strict|be_nice"}, headers=city)
        assert "be_nice unknown" in str(assert_problem(bad, 400)["detail"])
        ok = await client.patch(f"/api/v1/devices/{listed['id']}", json={"leniency": "strict"}, headers=city)
        assert ok.status_code == 200, ok.text
        pipeline = platform.pipeline
        assert pipeline is not None
        for _ in range(100):  # the running platform picks the change up
            device = pipeline.device(HECHI_MN)
            if device is not None and "strict" in device.leniency:
                break
            await asyncio.sleep(0.05)
        await dev.send(_lowercase_crc_frame(HECHI_MN, 2))
        await dev.no_answer()  # refused now
        await dev.close()
        pipeline.flush_rejections()

    run(fleet.settings, scenario)
    store = open_store(fleet.settings)
    report = store.status(0, 3)
    store.close()
    rejections = report["rejections"]
    assert isinstance(rejections, dict)
    assert rejections["crc_modbus_swapped"]["last_detail"].startswith(
        "accepted if the device's leniency lists crc_modbus_swapped")
    assert rejections["crc_mismatch"]["last_detail"].endswith("no setting accepts it")
    assert rejections["crc_lowercase"]["last_detail"].startswith(
        "this device is strict: list crc_lowercase in its leniency, or drop strict")
    assert report["quirks_by_device"] == {HECHI_MN: {"crc_lowercase": 1, "qn_format": 1}}


@pytest.mark.parametrize(("strict", "claimed"), [(0, True), (1, False)])
def test_a_quarantined_packet_is_claimed_by_the_same_rules(tmp_path: Path, strict: int, claimed: bool) -> None:
    """Packets kept before their device was registered are judged as live ones: the tolerant
    default claims a lowercase CRC; on a strict platform it stays in quarantine, with the reason."""
    settings = settings_for(tmp_path, hj212_strict=strict)
    register(settings, tmp_path, [{"mn": "SOMEONEELSE0000000000001"}])
    stranger = "NEWDEVICE000000000000001"

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(_lowercase_crc_frame(stranger, 1))
            assert (await dev.answer()).cn == "9014"  # kept in quarantine: the device need not resend
            await dev.close()

    asyncio.run(scenario())
    # registered with no per-device settings: `forewarn registry import` claims at once
    register(settings, tmp_path, [{"mn": "SOMEONEELSE0000000000001"}, {"mn": stranger, "site": "新站"}])
    store = open_store(settings)
    stored = list(store.readings(stranger, Kind.RTD))
    unknown = store.unknown_devices()
    store.close()
    if claimed:
        assert len(stored) == 1 and unknown == []
    else:
        [still] = unknown
        assert stored == [] and still.mn == stranger
        assert still.refused.startswith("crc_lowercase hj212_strict is on: list crc_lowercase"), still.refused
