"""``forewarn users`` as a user types it: real processes, a real data directory."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from forewarn.access.users import user_for_token
from tests.integration.harness import registry_csv


def forewarn(*args: str, cwd: Path, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FOREWARN_USER": "运维-王"}
    proc = subprocess.run(
        [sys.executable, "-m", "forewarn", *args, "--data", str(cwd / "data")],
        cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"forewarn {' '.join(args)} failed: {proc.stderr}")
    return proc


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("forewarn: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "forewarn.db")


def test_users_add_list_passwd_token_disable(tmp_path: Path) -> None:
    sheet = registry_csv(tmp_path / "d.csv", [{"mn": "A" * 24}])
    forewarn("registry", "import", str(sheet), cwd=tmp_path)

    out = forewarn("users", "add", "chief", "--role", "city_admin", "--password-stdin",
                   cwd=tmp_path, stdin="chief-password-1\n").stdout
    assert "user chief added (city_admin)" in out
    forewarn("users", "add", "jcj", "--role", "district_admin", "--region", "451202", "--password-stdin",
             cwd=tmp_path, stdin="district-pass-1\n")
    forewarn("users", "add", "燃气公司", "--role", "enterprise_user", "--enterprise", "河池市液化石油气公司",
             "--password-stdin", cwd=tmp_path, stdin="enterprise-pass-1\n")

    listed = [json.loads(line) for line in forewarn("users", "list", "--format", "json", cwd=tmp_path).stdout.splitlines()]
    by_name = {u["name"]: u for u in listed}
    assert set(by_name) == {"chief", "jcj", "燃气公司"}
    assert by_name["jcj"]["region_code"] == "451202" and by_name["燃气公司"]["enterprise"] == "河池市液化石油气公司"
    assert all("hash" not in key for u in listed for key in u)
    text = forewarn("users", "list", cwd=tmp_path).stdout
    assert "jcj" in text and "district_admin" in text and "argon2" not in text

    forewarn("users", "passwd", "jcj", "--password-stdin", cwd=tmp_path, stdin="a-new-password\n")
    token_proc = forewarn("users", "token", "jcj", "--label", "大屏", cwd=tmp_path)
    token = token_proc.stdout.strip()
    assert "shown once" in token_proc.stderr and len(token) >= 43
    conn = db(tmp_path)
    user = user_for_token(conn, token, touch=False)
    assert user is not None and user.name == "jcj" and user.scope.region_prefix == "451202"

    assert "user jcj disabled" in forewarn("users", "disable", "jcj", cwd=tmp_path).stdout
    assert "already disabled" in forewarn("users", "disable", "jcj", cwd=tmp_path).stdout
    assert user_for_token(conn, token, touch=False) is None
    listed = [json.loads(line) for line in forewarn("users", "list", "--format", "json", cwd=tmp_path).stdout.splitlines()]
    assert {u["name"]: u["disabled"] for u in listed} == {"chief": False, "jcj": True, "燃气公司": False}

    actions = conn.execute("SELECT actor, action, entity_id, origin FROM audit_log WHERE entity IN ('user', 'api_token') ORDER BY id").fetchall()
    assert actions == [
        ("运维-王", "user.create", "chief", "cli"),
        ("运维-王", "user.create", "jcj", "cli"),
        ("运维-王", "user.create", "燃气公司", "cli"),
        ("运维-王", "user.password", "jcj", "cli"),
        ("运维-王", "token.issue", "1", "cli"),
        ("运维-王", "user.disable", "jcj", "cli"),
    ]
    assert token not in str(conn.execute("SELECT * FROM audit_log").fetchall())
    conn.close()


def test_mistakes_are_one_line(tmp_path: Path) -> None:
    sheet = registry_csv(tmp_path / "d.csv", [{"mn": "A" * 24}])
    forewarn("registry", "import", str(sheet), cwd=tmp_path)
    pw = "long-enough-1\n"
    cases = [
        (("users", "add", "x", "--role", "district_admin", "--password-stdin"), pw, "needs a region"),
        (("users", "add", "x", "--role", "district_admin", "--region", "110000", "--password-stdin"), pw,
         "no region with code '110000'"),
        (("users", "add", "x", "--role", "enterprise_user", "--password-stdin"), pw, "needs an enterprise"),
        (("users", "add", "x", "--role", "enterprise_user", "--enterprise", "无此企业", "--password-stdin"), pw,
         "no enterprise named '无此企业'"),
        (("users", "add", "x", "--role", "superuser", "--password-stdin"), pw, "invalid choice"),
        (("users", "add", "x", "--role", "auditor", "--password-stdin"), "short\n", "at least 10 characters"),
        (("users", "add", "x", "--role", "auditor", "--password-stdin"), "", "held no password"),
        (("users", "passwd", "ghost", "--password-stdin"), pw, "no user named 'ghost'"),
        (("users", "disable", "ghost"), "", "no user named 'ghost'"),
        (("users", "token", "ghost"), "", "no user named 'ghost'"),
    ]
    for args, stdin, message in cases:
        err = one_line_error(forewarn(*args, cwd=tmp_path, stdin=stdin, check=False))
        assert message in err, (args, err)
    forewarn("users", "add", "x", "--role", "auditor", "--password-stdin", cwd=tmp_path, stdin=pw)
    err = one_line_error(forewarn("users", "add", "x", "--role", "auditor", "--password-stdin",
                                  cwd=tmp_path, stdin=pw, check=False))
    assert "already exists" in err
    assert forewarn("users", "list", cwd=tmp_path).stdout.count("auditor") == 1


def test_users_work_on_a_fresh_data_directory(tmp_path: Path) -> None:
    assert "no users" in forewarn("users", "list", cwd=tmp_path).stdout
    forewarn("users", "add", "auditor1", "--role", "auditor", "--password-stdin", cwd=tmp_path,
             stdin="long-enough-1\n")
    assert "auditor1" in forewarn("users", "list", cwd=tmp_path).stdout
