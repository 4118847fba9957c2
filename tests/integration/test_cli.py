"""The forewarn command as a user types it: real processes, a real data directory."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import data_packet, registry_csv, report, settings_for

MN = "010000A8900016F000169DC0"


def forewarn(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "forewarn", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        start_new_session=True,  # no controlling terminal: a one-time password is not shown on yours
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"forewarn {' '.join(args)} failed: {proc.stderr}")
    return proc


def on_a_terminal(*args: str, cwd: Path) -> str:
    """Run forewarn with its standard output on a pseudo-terminal, as a user at one; what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "forewarn", *args], cwd=cwd, stdout=slave,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    os.close(slave)
    out = b""
    try:
        while chunk := os.read(master, 4096):
            out += chunk
    except OSError:  # EIO: the other end closed
        pass
    finally:
        os.close(master)
    assert proc.wait(timeout=60) == 0
    return out.decode()


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("forewarn: error: ")
    return proc.stderr


def test_registry_import_twice_updates_and_never_duplicates(tmp_path: Path) -> None:
    sheet = registry_csv(tmp_path / "d.csv", [{"mn": MN}, {"mn": "B" * 24, "site": "二号站"}])
    first = forewarn("registry", "import", str(sheet), cwd=tmp_path)
    assert "2 devices added" in first.stdout
    again = forewarn("registry", "import", str(sheet), cwd=tmp_path)
    assert "0 devices added, 2 updated" in again.stdout
    exported = forewarn("registry", "export", cwd=tmp_path).stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(r["mn"] for r in rows) == sorted([MN, "B" * 24])
    assert rows[0]["site_type"] == "lpg_station"


def test_chinese_site_type_names_and_gbk_csv_are_accepted(tmp_path: Path) -> None:
    sheet = registry_csv(tmp_path / "d.csv", [{"mn": MN, "site_type": "加气站"}])
    (tmp_path / "gbk.csv").write_bytes(sheet.read_text(encoding="utf-8").encode("gbk"))
    forewarn("registry", "import", "gbk.csv", cwd=tmp_path)
    exported = forewarn("registry", "export", cwd=tmp_path).stdout
    assert "cng_lng_filling_station" in exported and "河池市液化石油气公司" in exported


def test_xlsx_export_imports_back_to_the_same_registry(tmp_path: Path) -> None:
    sheet = registry_csv(tmp_path / "d.csv", [{"mn": MN}])
    points = tmp_path / "p.csv"
    points.write_text("mn,code,field,name,quantity,unit,lower,upper,role\n"
                      f"{MN},100001,Ia,1号生产线,current,A,0,500,production\n", encoding="utf-8")
    forewarn("registry", "import", str(sheet), str(points), cwd=tmp_path)
    forewarn("registry", "export", "--format", "xlsx", "-o", "reg.xlsx", cwd=tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    forewarn("registry", "import", str(tmp_path / "reg.xlsx"), cwd=other)
    for args in (("registry", "export"), ("registry", "export", "--points")):
        assert forewarn(*args, cwd=tmp_path).stdout == forewarn(*args, cwd=other).stdout
    assert "1号生产线" in forewarn("registry", "export", "--points", cwd=other).stdout


def test_a_sheet_with_mistakes_names_every_row_and_imports_nothing(tmp_path: Path) -> None:
    sheet = registry_csv(tmp_path / "d.csv", [
        {"mn": MN},
        {"mn": "X2", "site_type": "spaceport"},
        {"mn": "X3", "longitude": "24.69", "latitude": "108.06"},
        {"mn": "X4", "leniency": "crc_lowercase|be_nice"},
    ])
    err = one_line_error(forewarn("registry", "import", str(sheet), cwd=tmp_path, check=False))
    assert "row 3: site_type 'spaceport' is unknown" in err
    assert "row 4: longitude 24.69 and latitude 108.06 look swapped" in err
    assert "row 5: leniency be_nice unknown" in err
    assert not (tmp_path / "forewarn-data" / "forewarn.db").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("readings", "--mn", "NOPE"), "no forewarn database"),
        (("registry", "import", "missing.csv"), "missing.csv: no such file"),
        (("simulate", "--target", "nowhere"), "is not HOST:PORT"),
        (("serve", "--hj212-port", "70000"), "is not a TCP port"),
        (("status", "--config", "nope.toml"), "config file nope.toml does not exist"),
    ],
)
def test_user_mistakes_get_one_clear_line(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    err = one_line_error(forewarn(*args, cwd=tmp_path, check=False))
    assert expected in err


def test_unknown_setting_in_config_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "forewarn.toml").write_text('[server]\nhj212_prot = 9000\n', encoding="utf-8")
    err = one_line_error(forewarn("status", cwd=tmp_path, check=False))
    assert "unknown setting 'hj212_prot'" in err


def test_serve_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = one_line_error(forewarn("serve", "--hj212-host", "127.0.0.1", "--hj212-port", str(port),
                                      cwd=tmp_path, check=False))
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_readings_and_status_show_what_devices_sent(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, data_dir=tmp_path / "forewarn-data")
    forewarn("registry", "import", str(registry_csv(tmp_path / "d.csv", [{"mn": MN}])), cwd=tmp_path)

    report(settings, [
        data_packet(MN, f"DataTime=2026112208{minute:02d}00;a34002-Rtd={minute}.5,a34002-Flag=N;a34004-Rtd=9")
        for minute in range(3)
    ] + [data_packet("UNREGISTERED0000000001")])
    out = forewarn("readings", "--mn", MN, "--code", "a34002", "--from", "2026-11-22T08:01",
                   "--format", "json", cwd=tmp_path).stdout
    records = [json.loads(line) for line in out.splitlines()]
    assert records == [
        {"mn": MN, "code": "a34002", "field": "Rtd", "kind": "rtd", "ts": "2026-11-22T08:01:00+08:00", "value": 1.5, "flag": "N"},
        {"mn": MN, "code": "a34002", "field": "Rtd", "kind": "rtd", "ts": "2026-11-22T08:02:00+08:00", "value": 2.5, "flag": "N"},
    ]
    table = forewarn("readings", "--mn", MN, cwd=tmp_path).stdout.splitlines()
    assert table[0] == "mn,code,field,kind,ts,value,flag" and len(table) == 7
    status = json.loads(forewarn("status", "--format", "json", cwd=tmp_path).stdout)
    assert status["readings_stored"] == 6 and status["packets_accepted"] == 3
    assert status["devices_online"] == 1 and status["unknown_devices"] == 1
    unknown = forewarn("devices", "unknown", cwd=tmp_path).stdout
    assert "UNREGISTERED0000000001" in unknown
    err = one_line_error(forewarn("readings", "--mn", "UNREGISTERED0000000001", cwd=tmp_path, check=False))
    assert "in quarantine" in err
    err = one_line_error(forewarn("readings", "--mn", MN, "--from", "yesterday", cwd=tmp_path, check=False))
    assert "not an ISO 8601 time" in err


def test_demo_registers_the_fleet_and_its_devices_report(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = forewarn("demo", "--duration", "8", "--speed", "20", "--seed", "7",
                    "--hj212-port", str(port), "--http-port", "0", cwd=tmp_path)
    assert "registered the demo fleet: 72 devices" in proc.stdout
    assert "demo stopped:" in proc.stdout
    status = json.loads(forewarn("status", "--format", "json", cwd=tmp_path).stdout)
    assert status["devices_registered"] == 72
    assert status["devices_online"] > 50
    assert status["readings_stored"] > 1000
    unknown = forewarn("devices", "unknown", "--format", "json", cwd=tmp_path).stdout
    assert json.loads(unknown.splitlines()[0])["mn"] == "140213DEMO00UNREGISTERED"
    exported = forewarn("registry", "export", cwd=tmp_path).stdout
    assert "河池市金城江区拉友液化石油气有限公司" in exported
    # the demo replays its opening first, so a newcomer sees alarms in the first seconds
    listed = [json.loads(line) for line in forewarn("alarms", "list", "--format", "json", cwd=tmp_path).stdout.splitlines()]
    assert "gas.lel" in {a["rule_id"] for a in listed}
    # an account for each role, printed for the newcomer
    assert "demo accounts, password 'forewarn-demo'" in proc.stdout
    users = forewarn("users", "list", cwd=tmp_path).stdout
    for name in ("admin", "city", "hechi-city", "datong-city", "jinchengjiang", "pingcheng", "gasco", "auditor"):
        assert name in users


@pytest.mark.parametrize(
    ("args", "setup", "expected"),
    [
        (("readings",), None, "the following arguments are required: --mn"),
        (("readings", "--mn", "X", "--kind", "nope"), None, "invalid choice: 'nope'"),
        (("registry", "import", "adir.csv"), "dir", "adir.csv: not a file"),
        (("status", "--config", "adir.csv"), "dir", "does not exist or is not a file"),
        (("status", "--data", "afile"), "file", "is a file, not a directory"),
        (("registry", "import", "empty.csv"), "empty", "holds no rows below a header"),
        (("registry", "import", "fake.csv"), "binary", "is not a text file"),
        (("registry", "export", "-o", "/nonexistent/x.csv"), "db", "No such file or directory"),
        (("serve", "--config", "bad.toml"), "badport", "setting 'hj212_port' must be between 0 and 65535"),
        (("serve", "--config", "bad.toml"), "badtoml", "is not valid TOML"),
    ],
)
def test_more_mistakes_get_one_clear_line(
    tmp_path: Path, args: tuple[str, ...], setup: str | None, expected: str
) -> None:
    if setup == "dir":
        (tmp_path / "adir.csv").mkdir()
    elif setup == "file":
        (tmp_path / "afile").write_text("x")
    elif setup == "empty":
        (tmp_path / "empty.csv").write_text("mn,code,field\n")
    elif setup == "binary":
        (tmp_path / "fake.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    elif setup == "db":
        forewarn("registry", "import", str(registry_csv(tmp_path / "d.csv", [{"mn": MN}])), cwd=tmp_path)
    elif setup == "badport":
        (tmp_path / "bad.toml").write_text("hj212_port = 99999\n")
    elif setup == "badtoml":
        (tmp_path / "bad.toml").write_text("hj212_port = = 1\n")
    err = one_line_error(forewarn(*args, cwd=tmp_path, check=False))
    assert expected in err
    assert len(err.strip().splitlines()) == 1


def test_the_same_mn_in_two_files_with_different_rows_is_refused(tmp_path: Path) -> None:
    a = registry_csv(tmp_path / "a.csv", [{"mn": MN, "password": "111111"}])
    b = registry_csv(tmp_path / "b.csv", [{"mn": MN, "password": "222222"}])
    err = one_line_error(forewarn("registry", "import", str(a), str(b), cwd=tmp_path, check=False))
    assert f"mn {MN} appears twice with different rows" in err


def test_readings_latest_gives_the_newest_value_of_each_point(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, data_dir=tmp_path / "forewarn-data")
    forewarn("registry", "import", str(registry_csv(tmp_path / "d.csv", [{"mn": MN}])), cwd=tmp_path)

    report(settings, [
        data_packet(MN, f"DataTime=2026112208{minute:02d}00;a34002-Rtd={minute};a34004-Rtd={10 + minute}")
        for minute in range(3)
    ])
    out = forewarn("readings", "--mn", MN, "--latest", cwd=tmp_path).stdout.splitlines()
    assert out[1:] == [f"{MN},a34002,Rtd,rtd,2026-11-22T08:02:00+08:00,2.0,N",
                       f"{MN},a34004,Rtd,rtd,2026-11-22T08:02:00+08:00,12.0,N"]


def test_the_first_start_creates_an_administrator_once(tmp_path: Path) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(str(probe.getsockname()[1]))
    args = ("serve", "--hj212-host", "127.0.0.1", "--hj212-port", ports[0], "--http-host", "127.0.0.1",
            "--http-port", ports[1], "--duration", "1")
    first = on_a_terminal(*args, cwd=tmp_path)
    assert "first start: administrator admin created, password " in first
    assert "first start" not in forewarn(*args, cwd=tmp_path).stdout
    assert "admin" in forewarn("users", "list", cwd=tmp_path).stdout
