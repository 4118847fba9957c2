"""Modbus TCP against pymodbus's own server on loopback, the real platform, real SQLite.

The server holds known values (u16 scaled, i16 negative, f32 in two byte orders, u32 in the
input registers); the platform polls it every second and stores each poll's values; then the
server stops answering (its requests hang, so each poll times out): the device goes offline by
forewarn.online's definition and the timeouts are counted; the server answers again: readings
resume and the device is online again; a map imported meanwhile is polled at once.
"""

from __future__ import annotations

import asyncio
import csv
import socket
import sqlite3
import struct
from pathlib import Path

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from forewarn.app import Platform
from forewarn.cli import main
from forewarn.cli.registry import import_files
from forewarn.online import is_online
from tests.integration.harness import HEADER, eventually, running, settings_for

pytestmark = pytest.mark.integration

MN = "451202MODBUS000000000001"


def _words(fmt: str, value: float) -> list[int]:
    """The big-endian registers of a value (the test's own encoding, not forewarn's decoder)."""
    data = struct.pack(fmt, value)
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


HOLDING = [1234, *_words(">h", -200), *_words(">f", 123.456), *reversed(_words(">f", 21.5))]  # 0..5
INPUT = _words(">I", 100000)  # 100..101


class Gate:
    """The server's action on every request: answer, or (silent) hang so that the client times out."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self.requests = 0

    async def action(self, function_code: int, start: int, address: int, count: int, registers: list[int],
                     values: object) -> None:
        self.requests += 1
        await self.open.wait()


async def modbus_server(gate: Gate) -> tuple[ModbusTcpServer, int]:
    bits = [SimData(0, values=[True, False, True], datatype=DataType.BITS)]
    device = SimDevice(1, simdata=(bits, bits, [SimData(0, values=HOLDING, datatype=DataType.REGISTERS)],
                                   [SimData(100, values=INPUT, datatype=DataType.REGISTERS)]), action=gate.action)
    server = ModbusTcpServer(device, address=("127.0.0.1", 0))
    await server.serve_forever(background=True)
    listening: asyncio.Server = server.transport  # type: ignore[assignment]  # a listener's transport is the server
    return server, int(listening.sockets[0].getsockname()[1])


def modbus_sheets(tmp_path: Path, port: int) -> tuple[Path, Path]:
    """A devices sheet registering the device with protocol modbus, and its register map."""
    devices = tmp_path / "devices.csv"
    with devices.open("w", encoding="utf-8", newline="") as out:
        w = csv.DictWriter(out, [*HEADER, "protocol"])
        w.writeheader()
        w.writerow({"region_code": "451202", "region_name": "金城江区", "parent_region_code": "451200",
                    "enterprise": "河池市燃气公司", "site": "门站", "site_type": "gas_gate_station",
                    "longitude": "108.06", "latitude": "24.69", "password": "", "interval_s": "60",
                    "leniency": "", "mn": MN, "protocol": "modbus"})
    regmap = tmp_path / "modbus.csv"
    head = "mn,host,port,unit_id,interval_s,timeout_s,retries,address,function,type,byte_order,scale,unit,code,field"
    rows = [f"{MN},127.0.0.1,{port},1,1,0.3,0,0,3,u16,ABCD,0.1,kPa,a01006,Rtd",
            f"{MN},,,,,,,1,3,i16,ABCD,1,°C,a01001,Rtd",
            f"{MN},,,,,,,2,3,f32,ABCD,1,m3/h,g01001,Rtd",
            f"{MN},,,,,,,4,3,f32,CDAB,1,%,a01002,Rtd",
            f"{MN},,,,,,,100,4,u32,ABCD,1,m3,g01002,Cou",
            f"{MN},,,,,,,2,2,bool,,,,g01003,Rtd"]
    regmap.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    return devices, regmap


EXPECTED = {("a01006", "Rtd"): 123.4, ("a01001", "Rtd"): -200.0, ("g01001", "Rtd"): 123.456,
            ("a01002", "Rtd"): 21.5, ("g01002", "Cou"): 100000.0, ("g01003", "Rtd"): 1.0}


def _latest(db_path: Path) -> dict[tuple[str, str], tuple[int, float, str]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT p.code, p.field, MAX(r.ts), r.value, r.flag FROM readings_rtd r "
                          "JOIN points p ON p.id = r.point_id GROUP BY p.id").fetchall()
    return {(code, field): (ts, value, flag) for code, field, ts, value, flag in rows}


def _rejections(db_path: Path, reason: str) -> int:
    with sqlite3.connect(db_path) as db:
        row = db.execute("SELECT count FROM rejections WHERE reason = ?", (reason,)).fetchone()
    return 0 if row is None else int(row[0])


def test_a_modbus_device_that_times_out_goes_offline_and_comes_back(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path, offline_after_intervals=1.5, modbus_backoff_max_s=1.0, rules_enabled=0)

    async def scenario() -> None:
        gate = Gate()
        server, port = await modbus_server(gate)
        devices, regmap = modbus_sheets(tmp_path, port)
        import_files(settings, [devices])
        assert main(["--data", str(settings.data_dir), "modbus", "import", str(regmap), "--by", "tester"]) == 0
        assert "1 device(s), 6 register(s)" in capsys.readouterr().out
        platform = Platform(settings)
        await platform.start()
        try:
            pipeline = platform.pipeline
            assert pipeline is not None
            device = pipeline.device(MN)
            assert device is not None and device.interval_s == 1  # the polling interval judges it online

            def online() -> bool:
                return is_online(pipeline.last_seen.get(device.id), device.interval_s, pipeline.now_ms(),
                                 settings.offline_after_intervals)

            await eventually(lambda: set(_latest(settings.db_path)) == set(EXPECTED), timeout=5)
            latest = _latest(settings.db_path)
            for key, value in EXPECTED.items():
                assert latest[key][1] == pytest.approx(value, rel=1e-6), key
                assert latest[key][2] == "N"
            assert len({ts for ts, _, _ in latest.values()}) == 1  # one poll, one time
            assert online()
            # three reads per poll: holding 0..5 in one request, input 100..101, discrete input 2
            await eventually(lambda: gate.requests >= 6, timeout=3)

            gate.open.clear()  # the device stops answering: every request hangs, every poll times out
            silent_from = pipeline.now_ms()
            await eventually(lambda: not online(), timeout=4)
            await eventually(lambda: _rejections(settings.db_path, "modbus_timeout") >= 1, timeout=4)
            with sqlite3.connect(settings.db_path) as db:
                last_mn = db.execute("SELECT last_mn FROM rejections WHERE reason = 'modbus_timeout'").fetchone()[0]
            assert last_mn == MN
            stored_while_silent = max(ts for ts, _, _ in _latest(settings.db_path).values())
            assert stored_while_silent <= silent_from + 10  # nothing stored by a failed poll

            gate.open.set()  # it answers again
            back_from = pipeline.now_ms()
            await eventually(online, timeout=5)
            await eventually(lambda: min(ts for ts, _, _ in _latest(settings.db_path).values()) >= back_from,
                             timeout=5)
            for key, value in EXPECTED.items():
                assert _latest(settings.db_path)[key][1] == pytest.approx(value, rel=1e-6), key

            # a new map, imported while the platform runs: its poller is restarted with it
            regmap.write_text(f"{regmap.read_text(encoding='utf-8').splitlines()[0]}\n"
                              f"{MN},127.0.0.1,{port},1,1,0.3,0,0,3,u16,ABCD,0.01,kPa,a01006,Rtd\n", encoding="utf-8")
            assert main(["--data", str(settings.data_dir), "modbus", "import", str(regmap)]) == 0
            await eventually(lambda: _latest(settings.db_path)[("a01006", "Rtd")][1] == pytest.approx(12.34),
                             timeout=5)
        finally:
            gate.open.set()
            await platform.stop()
            await server.shutdown()  # type: ignore[no-untyped-call]
        assert main(["--data", str(settings.data_dir), "modbus", "list"]) == 0
        listed = capsys.readouterr().out
        assert f"{MN}  127.0.0.1:{port} unit 1  every 1 s" in listed
        assert "a01006-Rtd  holding registers 0  u16 ABCD *0.01+0  kPa" in listed and "a01002" not in listed

    asyncio.run(scenario())


BAD_ADDRESS = "451202MODBUS000000000002"
NOBODY = "451202MODBUS000000000003"


def test_an_exception_answer_and_a_refused_connection_are_counted_and_store_nothing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, modbus_backoff_max_s=1.0)  # the rule engine on, as in the field

    async def scenario() -> None:
        gate = Gate()
        server, port = await modbus_server(gate)
        refused = socket.socket()
        refused.bind(("127.0.0.1", 0))  # a port nobody listens on (bound, never listening)
        try:
            devices = tmp_path / "devices.csv"
            with devices.open("w", encoding="utf-8", newline="") as out:
                w = csv.DictWriter(out, [*HEADER, "protocol"])
                w.writeheader()
                for mn in (MN, BAD_ADDRESS, NOBODY):
                    w.writerow({"region_code": "451202", "region_name": "金城江区", "enterprise": "河池市燃气公司",
                                "site": "门站", "site_type": "gas_gate_station", "interval_s": "60", "mn": mn,
                                "protocol": "modbus"})
            import_files(settings, [devices])
            regmap = tmp_path / "modbus.csv"
            regmap.write_text(
                "mn,host,port,interval_s,timeout_s,retries,address,function,type,code\n"
                f"{MN},127.0.0.1,{port},1,0.5,0,0,3,u16,a01006\n"
                f"{BAD_ADDRESS},127.0.0.1,{port},1,0.5,0,50,3,u16,a01006\n"  # the server holds 0..5 only
                f"{NOBODY},127.0.0.1,{refused.getsockname()[1]},1,0.5,0,0,3,u16,a01006\n", encoding="utf-8")
            assert main(["--data", str(settings.data_dir), "modbus", "import", str(regmap)]) == 0
            async with running(settings) as platform:
                pipeline = platform.pipeline
                assert pipeline is not None
                seen: dict[str, str] = {}  # MN -> the detail of its last rejection (a spy: each still counted)
                count = pipeline.reject

                def reject(reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None:
                    seen[mn] = f"{reason}: {detail}"
                    count(reason, mn=mn, detail=detail, peer=peer)

                pipeline.reject = reject  # type: ignore[method-assign]
                await eventually(lambda: ("a01006", "Rtd") in _latest(settings.db_path), timeout=5)
                await eventually(lambda: BAD_ADDRESS in seen and NOBODY in seen, timeout=5)
                assert seen[BAD_ADDRESS].startswith("modbus_error: 127.0.0.1:") and "function 3 at 50" in seen[BAD_ADDRESS]
                assert seen[NOBODY].startswith("modbus_error: ") and "connection refused" in seen[NOBODY]
                assert MN not in seen
                await eventually(lambda: _rejections(settings.db_path, "modbus_error") >= 2, timeout=5)
                with sqlite3.connect(settings.db_path) as db:
                    stored = db.execute("SELECT DISTINCT d.mn FROM readings_rtd r JOIN points p ON p.id = r.point_id "
                                        "JOIN devices d ON d.id = p.device_id").fetchall()
                    heard = {r[0] for r in db.execute("SELECT d.mn FROM device_activity a "
                                                      "JOIN devices d ON d.id = a.device_id")}
                assert stored == [(MN,)]
                assert heard == {MN}  # neither failing device was ever heard: both offline
                bad, nobody = pipeline.device(BAD_ADDRESS), pipeline.device(NOBODY)
                assert bad is not None and nobody is not None
                assert bad.id not in pipeline.last_seen and nobody.id not in pipeline.last_seen
        finally:
            refused.close()
            await server.shutdown()  # type: ignore[no-untyped-call]

    asyncio.run(scenario())
