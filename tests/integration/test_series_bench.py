"""``forewarn bench series`` end to end, on two days instead of a year."""

from __future__ import annotations

import re

import pytest

from forewarn.cli import main


def test_bench_series_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "series", "--days", "2", "--max-points", "200", "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "planted spikes in the output: 7/7" in out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"series_ms_median=[\d.]+ series_ms_p95=[\d.]+ points=\d+", last)
    assert int(last.rsplit("=", 1)[1]) <= 200


def test_bench_series_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "series", "--max-points", "1"]) != 0
    assert "--max-points" in capsys.readouterr().err
