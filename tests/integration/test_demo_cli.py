"""`forewarn demo` as a newcomer runs it: real processes, a real data directory, the real fleet.

The five-minute demo runs at 20x with the platform's clock moved along (`--speed`), so five
demo minutes take 15 s; everything else is what `make demo` does.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forewarn.access.users import user_for_token
from forewarn.catalogue import Catalogue
from forewarn.store.sqlite import SqliteStore
from tests.integration.test_demo_incidents import DOMAIN_RULES

pytestmark = pytest.mark.integration


def forewarn(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run the command without a controlling terminal (start_new_session), as from a pipe."""
    proc = subprocess.run([sys.executable, "-m", "forewarn", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, start_new_session=True)
    assert proc.returncode == 0, f"forewarn {' '.join(args)} failed: {proc.stderr}"
    return proc


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # the alarm clock looks for silent devices every second (5 x registry_poll_s), as often
    # in demo time as the default does at 1x
    (cwd / "forewarn.toml").write_text("registry_poll_s = 0.2\n", encoding="utf-8")
    return forewarn("demo", "--hj212-port", "0", "--http-port", "0", "--seed", "7", *args, cwd=cwd)


def test_five_minutes_of_demo_raise_an_alarm_of_every_domain(tmp_path: Path) -> None:
    proc = demo(tmp_path, "--speed", "20", "--duration", "15")
    listed = [json.loads(line) for line in forewarn("alarms", "list", "--format", "json", cwd=tmp_path).stdout.splitlines()]
    raised = {a["rule_id"] for a in listed}
    missing = [domain for domain, rules in DOMAIN_RULES.items() if not raised & rules]
    assert not missing, f"no alarm of {missing} in five demo minutes (raised: {sorted(raised)})"
    # what the newcomer is told: where to look, who to log in as, on this machine only
    out = proc.stdout
    assert re.search(r"^dashboard: http://127\.0\.0\.1:\d+/$", out, re.M)
    assert re.search(r"HJ 212 on 127\.0\.0\.1:\d+", out)
    for name in ("city ", "hechi-city", "datong-city", "jinchengjiang", "pingcheng", "gasco", "auditor"):
        assert f"\n  {name}" in out
    assert "password 'forewarn-demo'" in out
    token_line = next(line for line in out.splitlines() if "users token" in line and "TOKEN=" in line)
    assert "${TOKEN:-" in token_line and "--days 1" in token_line  # copied twice: one token, for a day
    # each alarm with the time it began
    text = forewarn("alarms", "list", "--lang", "en", cwd=tmp_path).stdout.splitlines()
    assert len(text) == len(listed)
    assert all(re.match(r"#\d+\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00 L\d ", line) for line in text), text[:3]


@pytest.fixture(scope="module")
def first_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A data directory after a first one-second demo, and what that demo printed."""
    cwd = tmp_path_factory.mktemp("demo")
    return cwd, demo(cwd, "--duration", "1")


@pytest.fixture
def demo_dir(tmp_path: Path, first_demo: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """A copy of the first demo's directory, this test's own to change."""
    shutil.copytree(first_demo[0], tmp_path / "demo")
    return tmp_path / "demo"


def test_the_admin_password_goes_to_a_terminal_never_into_the_demo_output(
    first_demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    proc = first_demo[1]
    both = proc.stdout + proc.stderr
    assert "first start: administrator admin created" in proc.stdout
    assert "初始密码" not in both and "change it after logging in" not in both
    assert "users passwd admin" in proc.stdout  # no terminal here: it says how to set one


def test_a_second_demo_keeps_what_the_user_changed(
    first_demo: tuple[Path, subprocess.CompletedProcess[str]], demo_dir: Path,
) -> None:
    assert "registered the demo fleet: 72 devices" in first_demo[1].stdout
    tmp_path = demo_dir
    # the user stops a site and retires nothing else: a sheet with that one change
    rows = list(csv.DictReader(io.StringIO(forewarn("registry", "export", cwd=tmp_path).stdout)))
    site = next(r for r in rows if r["site_type"] == "construction_site")
    changed = tmp_path / "stopped.csv"
    with changed.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerow({**site, "site_status": "stopped"})
    forewarn("registry", "import", str(changed), cwd=tmp_path)

    again = demo(tmp_path, "--duration", "1")
    assert "the demo fleet is already registered: 72 devices; not imported again" in again.stdout
    assert "registered the demo fleet" not in again.stdout
    after = {r["mn"]: r for r in csv.DictReader(io.StringIO(forewarn("registry", "export", cwd=tmp_path).stdout))}
    assert after[site["mn"]]["site_status"] == "stopped"


def test_global_options_go_before_the_command_too(demo_dir: Path) -> None:
    data = str(demo_dir / "forewarn-data")
    elsewhere = demo_dir / "elsewhere"
    elsewhere.mkdir()
    before = json.loads(forewarn("--data", data, "status", "--format", "json", cwd=elsewhere).stdout)
    after = json.loads(forewarn("status", "--format", "json", "--data", data, cwd=elsewhere).stdout)
    assert before["devices_registered"] == after["devices_registered"] == 72
    # after the command wins, as it always did
    other = json.loads(forewarn("--data", str(elsewhere / "none"), "status", "--format", "json", "--data", data,
                                cwd=elsewhere).stdout)
    assert other["devices_registered"] == 72


def test_users_tokens_labels_its_times(demo_dir: Path) -> None:
    tmp_path = demo_dir
    token = forewarn("users", "token", "pingcheng", "--days", "1", cwd=tmp_path).stdout.strip()
    store = SqliteStore(tmp_path / "forewarn-data" / "forewarn.db", Catalogue())
    try:
        assert user_for_token(store.db, token) is not None  # what the HTTP server does on each request
    finally:
        store.close()
    line = next(x for x in forewarn("users", "tokens", "pingcheng", cwd=tmp_path).stdout.splitlines() if "pingcheng" in x)
    assert re.search(r"created \S+, last used \S+, ends \S+$", line), line


@pytest.mark.parametrize(("cookie_secure", "warned"), [(1, True), (0, False)])
def test_serving_plain_http_beyond_loopback_says_what_to_set(tmp_path: Path, cookie_secure: int, warned: bool) -> None:
    (tmp_path / "forewarn.toml").write_text(f"cookie_secure = {cookie_secure}\n", encoding="utf-8")
    out = forewarn("serve", "--hj212-host", "127.0.0.1", "--hj212-port", "0", "--http-host", "0.0.0.0",
                   "--http-port", "0", "--duration", "0.5", cwd=tmp_path).stdout
    assert re.search(r"the dashboard on http://127\.0\.0\.1:\d+/", out)
    assert ("set cookie_secure = 0" in out) is warned
