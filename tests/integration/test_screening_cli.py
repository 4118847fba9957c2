"""``forewarn screening`` as a user types it: real processes over the planted month."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.screening_month import MONTH_END, MONTH_START, fleet_settings, write_month
from tests.integration.test_cli import forewarn, one_line_error


def test_screening_run_list_confirm_dismiss(tmp_path: Path) -> None:
    settings = fleet_settings(tmp_path)
    write_month(settings, plant=True)
    data = ["--data", str(settings.data_dir)]
    ran = forewarn("screening", "run", "--from", str(MONTH_START), "--to", str(MONTH_END), "--by", "li", *data,
                   cwd=tmp_path)
    assert "6 findings (6 new)" in ran.stdout and "neighbour_drop 1" in ran.stdout
    listed = [json.loads(line) for line in forewarn("screening", "list", "--json", *data, cwd=tmp_path)
              .stdout.splitlines()]
    assert sorted(f["kind"] for f in listed) == sorted(
        ["constant", "impossible", "impossible", "neighbour_drop", "clock_drift", "repeats"])
    drop = next(f for f in listed if f["kind"] == "neighbour_drop")
    flat = next(f for f in listed if f["kind"] == "constant")
    confirmed = forewarn("screening", "confirm", str(drop["id"]), "--by", "li", *data, cwd=tmp_path)
    assert f"finding {drop['id']} confirmed by li (audit mark " in confirmed.stdout
    assert "dismiss" in one_line_error(forewarn("screening", "dismiss", str(flat["id"]), *data, cwd=tmp_path,
                                                check=False))
    forewarn("screening", "dismiss", str(flat["id"]), "--note", "fog", "--by", "li", *data, cwd=tmp_path)
    assert "already" in one_line_error(forewarn("screening", "confirm", str(flat["id"]), *data, cwd=tmp_path,
                                                check=False))
    assert "40 days" in one_line_error(forewarn("screening", "run", "--from", "2026-01-01", "--to", "2026-12-01",
                                                *data, cwd=tmp_path, check=False))
    shown = forewarn("screening", "list", "--state", "dismissed", *data, cwd=tmp_path).stdout
    assert "dismissed by li" in shown and "1 of 1 findings" in shown
