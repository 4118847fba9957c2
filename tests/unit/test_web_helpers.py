"""Pure helpers of the web layer: times in and out, problem bodies."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from forewarn.times import iso, parse_moment
from forewarn.web.problems import PROBLEM_JSON, problem_response

TZ = ZoneInfo("Asia/Shanghai")
MS = 1_795_824_000_000  # 2026-11-28T08:00:00+08:00


def test_moments_in_and_out() -> None:
    assert parse_moment(str(MS), TZ) == MS
    assert parse_moment("2026-11-28T08:00:00+08:00", TZ) == MS
    assert parse_moment("2026-11-28T00:00:00Z", TZ) == MS
    assert parse_moment("2026-11-28T08:00", TZ) == MS  # no offset: the devices' zone
    assert iso(MS, TZ) == "2026-11-28T08:00:00+08:00"
    assert iso(MS + 250, TZ) == "2026-11-28T08:00:00.250+08:00"
    assert iso(10**20, TZ) == "epoch-ms:100000000000000000000"
    for bad in ("soon", "²", "-99999999999999", "9999999999999999"):
        with pytest.raises(ValueError):
            parse_moment(bad, TZ)


def test_problem_body() -> None:
    response = problem_response(401, "send a token")
    assert response.media_type == PROBLEM_JSON and response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(json.dumps(response.content)) == {
        "type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "send a token"}
