"""Packets from other vendors' devices, sent to the real server, end up as the right readings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from forewarn.cli.common import open_store
from forewarn.model import KIND_BY_CN, Kind
from forewarn.protocols.hj212.codec import Quirk, parse
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
