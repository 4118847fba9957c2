"""``forewarn audit`` as a user types it: a real process on a real data directory, the same use
case as the API's, mistakes in one line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.integration.harness import registry_csv
from tests.integration.test_cli import MN, forewarn, one_line_error

pytestmark = pytest.mark.integration


def test_mark_list_unmark_at_the_command_line_audited_with_who_and_why(tmp_path: Path) -> None:
    forewarn("registry", "import", str(registry_csv(tmp_path / "d.csv", [{"mn": MN}])), cwd=tmp_path)
    made = forewarn("audit", "mark", "--device", MN, "--from", "2026-11-22T08:00", "--to", "2026-11-22T09:00",
                    "--reason", "maintenance", "--note", "更换传感器", "--by", "王审核", cwd=tmp_path)
    assert made.stdout.startswith("mark 1: device") and "invalid" in made.stdout
    open_ended = forewarn("audit", "mark", "--device", MN, "--from", "2026-11-22T10:00", "--reason", "calibration",
                          "--by", "王审核", cwd=tmp_path)
    assert "open-ended" in open_ended.stdout
    forewarn("audit", "end", "2", "--at", "2026-11-22T10:30", "--by", "王审核", cwd=tmp_path)

    listed = [json.loads(line) for line in forewarn("audit", "list", "--format", "json", cwd=tmp_path).stdout.split("\n")
              if line]
    assert [(m["id"], m["reason"], m["actor"], m["origin"], m["end"]) for m in listed] == [
        (2, "calibration", "王审核", "cli", "2026-11-22T10:30:00+08:00"),
        (1, "maintenance", "王审核", "cli", "2026-11-22T09:00:00+08:00")]

    forewarn("audit", "unmark", "1", "--note", "误标", "--by", "李科长", cwd=tmp_path)
    text = forewarn("audit", "list", cwd=tmp_path).stdout
    assert "revoked by 李科长: 误标" in text
    assert "revoked already" in one_line_error(forewarn("audit", "unmark", "1", "--note", "x", cwd=tmp_path,
                                                        check=False))
    assert [line for line in forewarn("audit", "list", "--active", cwd=tmp_path).stdout.split("\n") if line][0] \
        .startswith("#2 ")

    db = sqlite3.connect(tmp_path / "forewarn-data" / "forewarn.db")
    try:
        entries = db.execute("SELECT entity_id, action, actor, origin FROM audit_log WHERE entity = 'data_mark' "
                             "ORDER BY id").fetchall()
    finally:
        db.close()
    assert entries == [("1", "data_mark.invalid", "王审核", "cli"), ("2", "data_mark.invalid", "王审核", "cli"),
                       ("2", "data_mark.end", "王审核", "cli"), ("1", "data_mark.revoke", "李科长", "cli")]


@pytest.mark.parametrize(("args", "expected"), [
    (("--device", "NOPE", "--from", "2026-11-22", "--reason", "fault"), "no device NOPE is registered"),
    (("--point", "NOPE/a-b", "--from", "2026-11-22", "--reason", "fault"), "no point NOPE/a-b is registered"),
    (("--device", MN, "--from", "2026-11-22", "--reason", "manual"), 'a manual mark needs a "note"'),
    (("--device", MN, "--from", "2026-11-22T09:00", "--to", "2026-11-22T08:00", "--reason", "fault"),
     "the end must be after the start"),
    (("--device", MN, "--from", "soon", "--reason", "fault"), "--from 'soon' is not an ISO 8601 time"),
    (("--device", MN, "--from", "2026-11-22", "--reason", "bored"), "invalid choice: 'bored'"),
])
def test_audit_mistakes_get_one_clear_line(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    forewarn("registry", "import", str(registry_csv(tmp_path / "d.csv", [{"mn": MN}])), cwd=tmp_path)
    assert expected in one_line_error(forewarn("audit", "mark", *args, cwd=tmp_path, check=False))
