"""``forewarn modbus import``: every mistake by row and column, nothing half imported, each
device's map replaced whole and audited, the registry's version moved."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from forewarn.cli import main
from forewarn.cli.registry import import_files
from forewarn.config import Settings
from tests.integration.harness import HEADER, settings_for

pytestmark = pytest.mark.integration

MODBUS = "451202MODBUS000000000001"
HJ212 = "451202HJ2120000000000001"
HEAD = "mn,host,port,unit_id,interval_s,address,function,type,byte_order,scale,unit,code,field"


def _register(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.DictWriter(out, [*HEADER, "protocol"])
        w.writeheader()
        for mn, protocol in ((MODBUS, "modbus"), (HJ212, "hj212")):
            w.writerow({"region_code": "451202", "region_name": "金城江区", "parent_region_code": "451200",
                        "enterprise": "河池市燃气公司", "site": "门站", "site_type": "gas_gate_station",
                        "password": "", "interval_s": "60", "leniency": "", "mn": mn, "protocol": protocol})
    import_files(settings, [path])


def _sheet(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "map.csv"
    path.write_text("\n".join([HEAD, *rows]) + "\n", encoding="utf-8")
    return path


def _cli(settings: Settings, *args: str) -> int:
    return main(["--data", str(settings.data_dir), "modbus", *args])


def _db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.db_path)


def test_mistakes_are_named_by_row_and_column_and_nothing_is_imported(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path)
    _register(settings, tmp_path)
    sheet = _sheet(tmp_path,
                   f"{MODBUS},10.0.0.5,502,1,10,0,3,u16,ABCD,1,,a01006,Rtd",
                   f"{MODBUS},10.0.0.6,,,,1,7,f32,ABDC,x,,a01001,Rtd",
                   f"{MODBUS},,,,,65535,3,f32,ABCD,1,,a01002,Rtd",
                   f"{MODBUS},,,,,3,1,u16,ABCD,1,,a01003,Rtd",
                   f"{MODBUS},,,,,4,3,u16,ABCD,1,,a01006,Rtd")
    assert _cli(settings, "import", str(sheet)) == 2
    err = capsys.readouterr().err
    for expected in ("map.csv row 3: host: '10.0.0.6' differs from '10.0.0.5'",
                     "map.csv row 3: function: '7' must be a whole number from 1 to 4",
                     "map.csv row 3: byte_order: 'ABDC' is not one of ABCD, CDAB, BADC, DCBA",
                     "map.csv row 3: scale: 'x' must be a number",
                     "map.csv row 4: address: f32 at 65535 runs past register 65535",
                     "map.csv row 5: type: u16 cannot be read from coils",
                     "map.csv row 6: code: 451202MODBUS000000000001 a01006-Rtd is mapped twice (also row 2)"):
        assert expected in err, (expected, err)
    with _db(settings) as db:
        assert db.execute("SELECT COUNT(*) FROM modbus_registers").fetchone()[0] == 0

    sheet = _sheet(tmp_path, f"{HJ212},10.0.0.5,502,1,10,0,3,u16,ABCD,1,,a01006,Rtd",
                   "451202NOSUCH000000000001,10.0.0.5,502,1,10,0,3,u16,ABCD,1,,a01006,Rtd",
                   f"{MODBUS},10.0.0.5,502,1,10,0,3,u16,ABCD,1,,a01006,Rtd")
    assert _cli(settings, "import", str(sheet)) == 2
    err = capsys.readouterr().err
    assert f"row 2: mn: {HJ212} is registered with protocol hj212" in err
    assert "row 3: mn: 451202NOSUCH000000000001 is not registered" in err
    with _db(settings) as db:  # the good device's rows waited for the others
        assert db.execute("SELECT COUNT(*) FROM modbus_registers").fetchone()[0] == 0


def test_an_import_replaces_a_devices_map_whole_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(tmp_path)
    _register(settings, tmp_path)
    with _db(settings) as db:
        version = int(db.execute("SELECT value FROM meta WHERE key = 'registry_version'").fetchone()[0])
    first = _sheet(tmp_path, f"{MODBUS},10.0.0.5,502,3,10,0,3,u16,ABCD,0.1,kPa,a01006,Rtd",
                   f"{MODBUS},,,,,1,3,f32,CDAB,,,a01001,")
    assert _cli(settings, "import", str(first), "--by", "alice") == 0
    second = _sheet(tmp_path, f"{MODBUS},10.0.0.7,1502,4,5,10,4,i32,DCBA,2,,a01002,Rtd")
    assert _cli(settings, "import", str(second), "--by", "bob") == 0
    assert "1 device(s), 1 register(s)" in capsys.readouterr().out
    with _db(settings) as db:
        rows = db.execute("SELECT code, field, address, function, type, byte_order, scale FROM modbus_registers").fetchall()
        assert rows == [("a01002", "Rtd", 10, 4, "i32", "DCBA", 2.0)]
        assert db.execute("SELECT host, port, unit_id, interval_s FROM modbus_connections").fetchall() == [
            ("10.0.0.7", 1502, 4, 5)]
        assert db.execute("SELECT interval_s FROM devices WHERE mn = ?", (MODBUS,)).fetchone()[0] == 5
        assert int(db.execute("SELECT value FROM meta WHERE key = 'registry_version'").fetchone()[0]) >= version + 2
        audit = db.execute("SELECT actor, before, after FROM audit_log WHERE entity = 'modbus_map' AND entity_id = ? "
                           "ORDER BY id", (MODBUS,)).fetchall()
    assert [a[0] for a in audit] == ["alice", "bob"]
    assert audit[0][1] is None
    before = json.loads(audit[1][1])
    assert before["connection"]["host"] == "10.0.0.5"
    assert [r["code"] for r in before["registers"]] == ["a01006", "a01001"]
    assert before["registers"][1]["field"] == "Rtd" and before["registers"][1]["byte_order"] == "CDAB"
    assert json.loads(audit[1][2])["connection"]["port"] == 1502
    assert _cli(settings, "list", "--mn", MODBUS) == 0
    assert "a01002-Rtd  input registers 10  i32 DCBA *2+0" in capsys.readouterr().out
