"""The HJ 212 server on loopback with a real SQLite file: what a device and a regulator see."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from forewarn.cli.common import open_store
from forewarn.model import Kind
from forewarn.protocols.hj212.codec import wrap
from forewarn.protocols.hj212.crc import hj212_crc
from tests.integration.harness import (
    FakeDevice,
    data_packet,
    eventually,
    register,
    running,
    segment,
    settings_for,
)

MN = "010000A8900016F000169DC0"


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_data_is_answered_with_9014_only_after_it_is_stored(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, qn="20261122080000999"))
            answer = await dev.answer()
            assert (answer.cn, answer.qn, answer.st, answer.flag) == ("9014", "20261122080000999", "91", 4)
            # the answer means stored: a separate connection sees the row now
            store = open_store(settings)
            rows = list(store.readings(MN, Kind.RTD))
            store.close()
            assert [(r.code, r.field, r.value, r.flag) for r in rows] == [("a34002", "Rtd", 45.2, "N")]
            assert rows[0].ts_ms == 1795305600000  # 2026-11-22T08:00:00+08:00
            await dev.close()

    run(scenario())


def test_no_answer_when_the_device_does_not_ask_for_one(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, flag=4))
            await dev.no_answer()
            await dev.close()

    run(scenario())


def test_frames_split_byte_by_byte_and_packed_in_one_read(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            one = data_packet(MN, "DataTime=20261122080000;a34002-Rtd=1", qn="20261122080000001")
            for i in range(len(one)):
                await dev.send(one[i : i + 1])
            assert (await dev.answer()).qn == "20261122080000001"
            many = b"".join(
                data_packet(MN, f"DataTime=202611220801{i:02d};a34002-Rtd={i}", qn=f"202611220801000{i:02d}")
                for i in range(20)
            )
            await dev.send(many)
            qns = [(await dev.answer()).qn for _ in range(20)]
            assert sorted(qns) == [f"202611220801000{i:02d}" for i in range(20)]
            await dev.close()
        store = open_store(settings)
        assert len(list(store.readings(MN, Kind.RTD))) == 21
        store.close()

    run(scenario())


def test_every_kind_of_upload_is_kept_apart(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for cn, cp in [
                ("2011", "DataTime=20261122080000;a34002-Rtd=10,a34002-Flag=N"),
                ("2051", "DataTime=20261122080000;a34002-Avg=11,a34002-Min=9,a34002-Max=13,a34002-Flag=N"),
                ("2061", "DataTime=20261122080000;a34002-Avg=12,a34002-Flag=D"),
                ("2031", "DataTime=20261122000000;a34002-Avg=13,a34002-Flag=N"),
                ("2021", "DataTime=20261122080000;SB1-RS=1;SB2-RS=0"),
                ("2041", "DataTime=20261122000000;SB1-RT=20.5"),
            ]:
                await dev.send(wrap(segment(MN, cp, cn=cn)))
                assert (await dev.answer()).cn == "9014"
            await dev.close()
        store = open_store(settings)
        got = {k: [(r.code, r.field, r.value, r.flag) for r in store.readings(MN, k)] for k in Kind}
        store.close()
        assert got[Kind.RTD] == [("a34002", "Rtd", 10.0, "N")]
        assert got[Kind.MINUTE] == [("a34002", "Avg", 11.0, "N"), ("a34002", "Max", 13.0, "N"),
                                    ("a34002", "Min", 9.0, "N")]
        assert got[Kind.HOUR] == [("a34002", "Avg", 12.0, "D")]
        assert got[Kind.DAY] == [("a34002", "Avg", 13.0, "N")]
        assert got[Kind.STATUS] == [("SB1", "RS", 1.0, "N"), ("SB2", "RS", 0.0, "N")]
        assert got[Kind.RUNTIME] == [("SB1", "RT", 20.5, "N")]

    run(scenario())


def test_wrong_password_gets_qnrtn_3_and_nothing_is_stored(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN, "password": "654321"}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, pw="123456"))
            answer = await dev.answer()
            assert (answer.cn, answer.params) == ("9011", {"QnRtn": "3"})
            await dev.close()
        store = open_store(settings)
        assert list(store.readings(MN, Kind.RTD)) == []
        assert store.status(0, 3)["rejections"]["wrong_password"]["count"] == 1  # type: ignore[index]
        store.close()

    run(scenario())


def test_time_calibration_gets_9013_then_1012_with_platform_time(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(wrap(segment(MN, "PolId=a34002", cn="1013", qn="20261122080000555")))
            ack = await dev.answer()
            assert (ack.cn, ack.qn) == ("9013", "20261122080000555")
            setting = await dev.answer()
            assert setting.cn == "1012"
            system_time = setting.params["SystemTime"]
            assert abs(int(system_time[8:10]) * 60 + int(system_time[10:12])
                       - (time.gmtime().tm_hour + 8) % 24 * 60 - time.gmtime().tm_min) <= 1
            await dev.close()

    run(scenario())


def test_bad_crc_is_rejected_with_reason_and_answered_qnrtn_9_only_to_its_device(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            good = data_packet(MN)
            await dev.send(good[:-6] + b"0000\r\n")
            answer = await dev.answer()  # the standard's CRC error: the device sends again at once
            assert (answer.cn, answer.params, answer.qn) == ("9011", {"QnRtn": "9"}, "20261122080000123")
            stranger = data_packet("NOTREGISTERED00000000001")
            wrong_pw = data_packet(MN, pw="654321")
            for junk in (stranger, wrong_pw, b"##0010garbage&&0000\r\n"):
                await dev.send(junk[:-6] + b"0000\r\n")
            await dev.no_answer()  # refused frames of strangers are not echoed back
            await dev.send(good)  # the same connection still works
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        store = open_store(settings)
        rejections = store.status(0, 3)["rejections"]
        store.close()
        assert rejections["crc_mismatch"]["count"] == 3  # type: ignore[index]
        assert "expected=" in rejections["crc_mismatch"]["last_detail"]  # type: ignore[index]

    run(scenario())


def test_leniency_is_per_device_and_counted(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    lenient, strict = "LENIENT00000000000000001", "STRICT000000000000000001"
    # the default tolerates a lowercase CRC and a 13-digit QN; a device made strict does not
    register(settings, tmp_path, [{"mn": lenient},
                                  {"mn": strict, "site": "另一站", "leniency": "strict"}])

    def lower_crc(mn: str) -> bytes:
        for value in range(100):  # a value whose CRC has a letter in it, so case shows
            seg = segment(mn, f"DataTime=20261122080000;a34002-Rtd={value}", qn="1617957600465").encode()
            crc = b"%04x" % hj212_crc(seg)
            if crc != crc.upper():
                return b"##%04d%s%s\r\n" % (len(seg), seg, crc)
        raise AssertionError("no CRC with a letter")

    async def scenario() -> None:
        async with running(settings) as platform:
            a = await FakeDevice.connect(platform.hj212_port)
            b = await FakeDevice.connect(platform.hj212_port)
            await a.send(lower_crc(lenient))
            assert (await a.answer()).cn == "9014"
            await b.send(lower_crc(strict))
            await b.no_answer()
            await a.close()
            await b.close()
        store = open_store(settings)
        report = store.status(0, 3)
        store.close()
        assert report["quirks_tolerated"] == {"qn_format": 1, "crc_lowercase": 1}
        assert report["quirks_by_device"] == {lenient: {"crc_lowercase": 1, "qn_format": 1}}
        assert set(report["rejections"]) == {"crc_lowercase"}  # type: ignore[arg-type]
        detail = report["rejections"]["crc_lowercase"]["last_detail"]  # type: ignore[index]
        assert detail.startswith("this device is strict: list crc_lowercase in its leniency")

    run(scenario())


def test_unknown_device_is_quarantined_then_claimed_without_resending(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    stranger = "NEWDEVICE000000000000001"

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for minute in range(3):
                await dev.send(data_packet(stranger, f"DataTime=2026112208{minute:02d}00;a34002-Rtd={minute}"))
                assert (await dev.answer()).cn == "9014"  # kept: the device need not resend
            store = open_store(settings)
            [unknown] = store.unknown_devices()
            assert (unknown.mn, unknown.packets) == (stranger, 3)
            store.close()
            # registering it while the server runs turns the quarantine into readings
            register(settings, tmp_path, [{"mn": MN}, {"mn": stranger, "site": "新站"}])

            def claimed() -> bool:
                s = open_store(settings)
                try:
                    return len(list(s.readings(stranger, Kind.RTD))) == 3 and not s.unknown_devices()
                finally:
                    s.close()

            await eventually(claimed)
            await dev.close()

    run(scenario())


def test_garbage_sender_is_cut_off_and_others_carry_on(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_garbage_bytes=1000)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            good = await FakeDevice.connect(platform.hj212_port)
            bad = await FakeDevice.connect(platform.hj212_port)
            await bad.send(bytes(range(256)) * 8)
            assert await bad.closed_by_peer()
            endless = await FakeDevice.connect(platform.hj212_port)
            await endless.send(b"##9999QN=" + b"1" * 20000)
            assert await endless.closed_by_peer()
            await good.send(data_packet(MN))
            assert (await good.answer()).cn == "9014"
            for d in (good, bad, endless):
                await d.close()

    run(scenario())


def test_idle_connection_is_closed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, idle_timeout_s=0.3)

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            assert await dev.closed_by_peer(within=3.0)
            await eventually(lambda: not platform.hj212.connections)  # type: ignore[union-attr]

    run(scenario())


def test_unregistered_code_becomes_a_discovered_point_from_the_catalogue(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, "DataTime=20261122080000;a34004-Rtd=30;100001-Ia=12.5;zz9-Rtd=1"))
            await dev.answer()
            await dev.close()
        store = open_store(settings)
        points = {(p.code, p.field): p for p in store.export_points()}
        store.close()
        assert points[("a34004", "Rtd")].quantity == "pm25" and points[("a34004", "Rtd")].discovered
        assert points[("100001", "Ia")].quantity == "current"
        assert points[("zz9", "Rtd")].quantity == "unknown"

    run(scenario())


def test_split_packet_parts_are_stored_as_they_come(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            part1 = wrap(segment(MN, "DataTime=20261122080000;a34002-Avg=1", cn="2051", flag=7)
                         .replace("Flag=7;", "Flag=7;PNUM=2;PNO=1;"))
            await dev.send(part1)
            assert (await dev.answer()).cn == "9014"
            store = open_store(settings)
            assert len(list(store.readings(MN, Kind.MINUTE))) == 1  # not held back for part 2
            store.close()
            await dev.close()

    run(scenario())


def test_bad_value_is_rejected_alone_and_the_rest_stored(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, "DataTime=20261122080000;a34002-Rtd=abc;a34004-Rtd=30"))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        store = open_store(settings)
        assert [r.code for r in store.readings(MN, Kind.RTD)] == ["a34004"]
        assert store.status(0, 3)["rejections"]["bad_value"]["count"] == 1  # type: ignore[index]
        store.close()

    run(scenario())
