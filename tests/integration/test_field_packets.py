"""Packets from other vendors' devices, sent to the real server, end up as the right readings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from forewarn.cli import main
from forewarn.cli.common import open_store
from forewarn.model import KIND_BY_CN, Kind
from forewarn.protocols.hj212.codec import Hj212Error, Quirk, parse
from forewarn.protocols.hj212.handler import sniff_mn
from forewarn.protocols.hj212.readings import META_FIELDS
from tests.conftest import FieldPacket
from tests.integration.harness import FakeDevice, register, running, settings_for

ALL_QUIRKS = "|".join(q.value for q in Quirk)


def _expected_values(packet: bytes) -> int:
    frame = parse(packet)
    return sum(1 for subs in frame.factors.values() for f in subs if f not in META_FIELDS)


def test_every_good_field_data_packet_is_stored_value_for_value(
    tmp_path: Path, field_packets: list[FieldPacket]
) -> None:
    data = [p for p in field_packets if p.label == "crc_ok" and parse(p.packet).cn in KIND_BY_CN]
    assert len(data) >= 20
    mns = sorted({parse(p.packet).mn for p in data})
    settings = settings_for(tmp_path)
    # empty password: these vendors' devices use several; leniency: whatever each needs
    register(settings, tmp_path, [{"mn": mn, "site": f"站{i}", "password": "", "leniency": ALL_QUIRKS}
                                  for i, mn in enumerate(mns)])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for p in data:
                await dev.send(p.packet + b"\r\n")
            await asyncio.sleep(1.0)
            await dev.close()

    asyncio.run(scenario())
    store = open_store(settings)
    status = store.status(0, 3)
    rows = {
        (r.mn, r.kind, r.code, r.field, r.ts_ms): (r.value, r.flag)
        for mn in mns for kind in Kind for r in store.readings(mn, kind)
    }
    store.close()
    # packets may repeat a (point, time); each distinct one is one row
    distinct = {
        (f.mn, f.cn, code, field, f.params["DataTime"])
        for f in (parse(p.packet) for p in data)
        for code, subs in f.factors.items() for field in subs if field not in META_FIELDS
    }
    assert status["rejections"] == {}
    assert status["readings_stored"] == sum(_expected_values(p.packet) for p in data)
    assert len(rows) == len(distinct)
    # spot checks, read by hand from the packets
    power = "410183160889201000212505"  # ST=80 electricity monitor, 2020-10-15 12:30 local
    assert rows[(power, Kind.RTD, "100000", "Ia", 1602736200000)] == (401.4, "N")
    assert rows[(power, Kind.RTD, "100000", "Ept", 1602736200000)] == (162762.484, "N")
    fume = "2019051703100020"  # oil-fume monitor's day data with vendor names
    assert rows[(fume, Kind.DAY, "LAMPBLACK", "Max", 1565683080000)] == (9.66, "N")
    stopped = "18AAH"  # NMHC with flag F (instrument stopped) is stored with its flag
    assert rows[(stopped, Kind.RTD, "a24088", "Rtd", 1598612760000)] == (0.0, "F")


def _values(packet: bytes) -> int:
    """Values a packet carries: 0 for commands, and for frames too broken to read."""
    try:
        frame = parse(packet, check_crc=False)
    except Hj212Error:
        return 0
    if frame.cn not in KIND_BY_CN:
        return 0
    return sum(1 for subs in frame.factors.values() for f in subs if f not in META_FIELDS)


def _send_the_file(
    tmp_path: Path, field_packets: list[FieldPacket], **settings_values: object
) -> tuple[dict[str, object], dict[str, int]]:
    """Every packet of the file, good and bad, from one connection, to a registry of every MN
    in it with no per-device settings (no leniency; no password, as these vendors use several)."""
    mns = sorted({mn for p in field_packets if (mn := sniff_mn(p.packet))})
    # refused frames must not cut the connection: each packet is judged on its own here
    settings = settings_for(tmp_path, max_garbage_bytes=1_000_000, **settings_values)
    register(settings, tmp_path, [{"mn": mn, "site": f"站{i}", "password": ""} for i, mn in enumerate(mns)])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for p in field_packets:
                await dev.send(p.packet + b"\r\n")
            await asyncio.sleep(1.0)
            await dev.close()

    asyncio.run(scenario())
    store = open_store(settings)
    status, counters = store.status(0, 3), store.counters()
    store.close()
    return status, counters


def test_the_field_out_of_the_box_stores_its_good_values_and_none_of_its_bad(
    tmp_path: Path, field_packets: list[FieldPacket], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10, item 1: a registry with no per-device settings, the tolerant default."""
    good = [p for p in field_packets if p.label == "crc_ok"]
    bad = [p for p in field_packets if p.label == "crc_bad"]
    good_values = sum(_values(p.packet) for p in good)
    assert good_values > 200 and sum(_values(p.packet) for p in bad) > 50  # the file holds what this is about
    status, counters = _send_the_file(tmp_path, field_packets)
    rejections = status["rejections"]
    assert isinstance(rejections, dict)
    stored = status["readings_stored"]
    assert isinstance(stored, int)
    # the real figure: every good value is stored (the strict default stored 86 %, below) ...
    assert stored / good_values >= 0.95
    assert stored == good_values == 241
    # ... and no bad one: each bad packet was refused, none stored a row (not even a repeat)
    assert counters.get("readings_already_stored", 0) == 0
    assert sum(int(r["count"]) for r in rejections.values()) == len(bad)
    assert status["packets_accepted"] == sum(1 for p in good if parse(p.packet).cn in KIND_BY_CN)
    # refused because the CRC is another algorithm's: the reason names the setting that accepts it
    assert rejections["crc_modbus_swapped"]["last_detail"].startswith(
        "accepted if the device's leniency lists crc_modbus_swapped")
    assert "no setting accepts it" in rejections["crc_mismatch"]["last_detail"]
    # the deviations tolerated are counted, per device too
    quirks = status["quirks_tolerated"]
    assert isinstance(quirks, dict)
    assert quirks["crc_lowercase"] == 5 and quirks["datatime_ms"] == 1 and quirks["qn_format"] == 3
    by_device = status["quirks_by_device"]
    assert isinstance(by_device, dict)
    assert by_device["LD130133000015"] == {"datatime_ms": 1}
    assert by_device["DXCBZ000000005"] == {"qn_format": 3}
    # and `forewarn status` shows them per device
    assert main(["status", "--data", str(tmp_path / "data")]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "  MN=DXCBZ000000005             qn_format=3" in shown
    assert "  MN=LD130133000015             datatime_ms=1" in shown


def test_a_strict_platform_stores_only_the_standard_frames_and_says_which_setting_would_do(
    tmp_path: Path, field_packets: list[FieldPacket]
) -> None:
    good_values = sum(_values(p.packet) for p in field_packets if p.label == "crc_ok")
    status, _ = _send_the_file(tmp_path, field_packets, hj212_strict=1)
    stored = status["readings_stored"]
    assert isinstance(stored, int)
    assert stored == 208 and round(stored / good_values, 3) == 0.863  # what issue 10 measured: "about 86 %"
    rejections = status["rejections"]
    assert isinstance(rejections, dict)
    assert rejections["crc_lowercase"]["last_detail"].startswith(
        "hj212_strict is on: list crc_lowercase in the device's leniency, or set it to 0")
    assert status["quirks_tolerated"] == {}
