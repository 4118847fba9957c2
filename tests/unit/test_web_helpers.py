"""Pure helpers of the web layer: times in and out, problem bodies."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from forewarn.web.problems import PROBLEM_JSON, ApiProblem, problem_response
from forewarn.web.routes_series import iso, parse_moment

TZ = ZoneInfo("Asia/Shanghai")
MS = 1_795_824_000_000  # 2026-11-28T08:00:00+08:00


def test_moments_in_and_out() -> None:
    assert parse_moment(str(MS), TZ, "from") == MS
    assert parse_moment("2026-11-28T08:00:00+08:00", TZ, "from") == MS
    assert parse_moment("2026-11-28T00:00:00Z", TZ, "from") == MS
    assert parse_moment("2026-11-28T08:00", TZ, "from") == MS  # no offset: the devices' zone
    assert iso(MS, TZ) == "2026-11-28T08:00:00+08:00"
    assert iso(MS + 250, TZ) == "2026-11-28T08:00:00.250+08:00"
    with pytest.raises(ApiProblem) as caught:
        parse_moment("soon", TZ, "to")
    assert caught.value.status == 400 and "to='soon'" in caught.value.detail


def test_problem_body() -> None:
    response = problem_response(401, "send a token")
    assert response.media_type == PROBLEM_JSON and response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(json.dumps(response.content)) == {
        "type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "send a token"}
