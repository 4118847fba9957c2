"""What the first review found: every one of these once lost data or a connection."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from forewarn.catalogue import Catalogue
from forewarn.cli.common import open_store
from forewarn.model import Kind
from forewarn.protocols.hj212.codec import wrap
from forewarn.store.base import DeviceRow, IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter
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


def test_quarantined_packets_refused_on_registration_stay_until_the_registry_is_fixed(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": "OTHER"}])

    async def send() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for minute in range(3):
                await dev.send(data_packet(MN, f"DataTime=2026112208{minute:02d}00;a34002-Rtd=1", pw="654321"))
                assert (await dev.answer()).cn == "9014"
            await dev.close()

    asyncio.run(send())
    register(settings, tmp_path, [{"mn": "OTHER"}, {"mn": MN, "site": "新站", "password": "123456"}])
    store = open_store(settings)
    [kept] = store.unknown_devices()
    assert (kept.mn, kept.packets) == (MN, 3) and kept.refused.startswith("wrong_password")
    assert list(store.readings(MN, Kind.RTD)) == []
    store.close()
    register(settings, tmp_path, [{"mn": "OTHER"}, {"mn": MN, "site": "新站", "password": "654321"}])
    store = open_store(settings)
    assert len(list(store.readings(MN, Kind.RTD))) == 3 and store.unknown_devices() == []
    store.close()


def test_unicode_digits_in_flag_cost_one_rejection_not_the_connection(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            odd = wrap(segment(MN, "DataTime=20261122080000;a34002-Rtd=1").replace("Flag=5", "Flag=²"))
            await dev.send(odd + data_packet(MN, qn="20261122080000777"))
            answer = await dev.answer()
            assert (answer.cn, answer.qn) == ("9014", "20261122080000777")
            await dev.close()
        store = open_store(settings)
        assert store.status(0, 3)["rejections"]["bad_flag"]["count"] == 1  # type: ignore[index]
        store.close()

    asyncio.run(scenario())


def test_datatime_far_in_the_past_or_future_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for when in ("00010101000000", "99991231235959"):
                await dev.send(data_packet(MN, f"DataTime={when};a34002-Rtd=1"))
                await dev.no_answer(0.3)
            await dev.close()
        store = open_store(settings)
        assert store.status(0, 3)["rejections"]["datatime_out_of_range"]["count"] == 2  # type: ignore[index]
        assert list(store.readings(MN, Kind.RTD)) == []
        store.close()

    asyncio.run(scenario())


def test_a_stray_newline_after_each_frame_is_neither_garbage_nor_a_reason_to_hang_up(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_garbage_bytes=10)

    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for minute in range(30):
                await dev.send(data_packet(MN, f"DataTime=2026112208{minute:02d}00;a34002-Rtd=1") + b"\n")
                assert (await dev.answer()).cn == "9014"
            await dev.close()
        store = open_store(settings)
        assert store.status(0, 3)["rejections"] == {}
        store.close()

    asyncio.run(scenario())


def test_garbage_is_counted_even_when_the_connection_stays(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(b"AT+CSQ?\r\n" + data_packet(MN))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        store = open_store(settings)
        assert store.status(0, 3)["rejections"]["garbage"]["count"] == 1  # type: ignore[index]
        store.close()

    asyncio.run(scenario())


def test_a_frame_held_at_shutdown_is_stored_not_lost(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN, "leniency": "no_crlf"}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN)[:-2])  # no CRLF: held for its grace period
            await asyncio.sleep(0.05)
        await dev.close()

    asyncio.run(scenario())
    store = open_store(settings)
    assert len(list(store.readings(MN, Kind.RTD))) == 1
    store.close()


def test_free_text_holding_hashes_survives_any_read_boundary(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    packet = data_packet(MN, "DataTime=20261122080000;a34002-Rtd=1;i12001-Info=//状态##正常//")
    cut = packet.index(b"##", 5) + 2

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(packet[:cut])
            await asyncio.sleep(0.1)
            await dev.send(packet[cut:])
            assert (await dev.answer()).cn == "9014"
            await dev.close()

    asyncio.run(scenario())


def test_one_failing_batch_does_not_take_its_neighbours_down(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    store = SqliteStore(settings.db_path, Catalogue())
    device_id = store.device_infos()[MN].id
    results: dict[str, BaseException | None] = {}
    done = threading.Event()

    def note(name: str):  # type: ignore[no-untyped-def]
        def record(error: BaseException | None) -> None:
            results[name] = error
            if len(results) == 3:
                done.set()
        return record

    writer: BatchWriter[SqliteStore] = BatchWriter(store)
    good = IngestBatch(readings=[ReadingBatch(device_id, Kind.RTD, [("a34002", "Rtd", 1795305600000, 1.0, "N")])])
    poison = IngestBatch(readings=[ReadingBatch(999999, Kind.RTD, [("a34002", "Rtd", 1795305600000, 1.0, "N")])])
    also_good = IngestBatch(readings=[ReadingBatch(device_id, Kind.RTD, [("a34002", "Rtd", 1795305660000, 2.0, "N")])])
    # queued before the thread starts, so all three land in one group commit
    writer.submit(good, note("good"))
    writer.submit(poison, note("poison"))
    writer.submit(also_good, note("also_good"))
    writer.start()
    assert done.wait(30)
    writer.close()
    assert results["good"] is None and results["also_good"] is None
    assert results["poison"] is not None
    assert [r.value for r in store.readings(MN, Kind.RTD)] == [1.0, 2.0]
    store.close()


def test_the_running_server_claims_quarantine_when_the_registry_changes(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": "OTHER"}])

    async def scenario() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN))
            await dev.answer()
            # another process registers the device without claiming (only the server does)
            store = SqliteStore(settings.db_path, Catalogue())
            store.apply_registry([DeviceRow("451202", "金城江区", "某企业", "新站", "lpg_station", MN,
                                            password="123456")], [])
            store.close()

            def stored() -> bool:
                s = open_store(settings)
                try:
                    return len(list(s.readings(MN, Kind.RTD))) == 1
                finally:
                    s.close()

            await eventually(stored)
            await dev.close()

    asyncio.run(scenario())
