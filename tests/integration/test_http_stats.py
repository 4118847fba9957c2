"""GET /api/v1/stats/figures and /rankings on a running platform: typed, scoped, mistakes named.

The numbers themselves are checked on the worked examples (test_stats_figures.py); here what
the API adds: each user sees the figures of their own scope only, a window or a region that
names nothing is a 400 saying what to give, and the OpenAPI document describes the rows.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest

from forewarn.app import Platform
from tests.integration.api import HECHI_MN, TZ, Fleet, assert_problem, bearer, run
from tests.integration.harness import data_packet, send_stored

pytestmark = pytest.mark.integration


def _now_packet() -> bytes:
    at = datetime.fromtimestamp(time.time() - 30, TZ).strftime("%Y%m%d%H%M%S")
    return data_packet(HECHI_MN, f"DataTime={at};a34002-Rtd=45.2,a34002-Flag=N", qn=f"{at}000")


def test_figures_are_each_users_own_and_mistakes_are_named(fleet: Fleet) -> None:
    t = fleet.tokens
    today = datetime.now(TZ).date().isoformat()

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, _now_packet())

        async def get(token: str, path: str = "/api/v1/stats/figures", **query: str) -> httpx.Response:
            return await client.get(path, params=query, headers=bearer(t[token]))

        answer = await get("hechi", when=today)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["by"], body["period"], body["when"]) == ("site", "day", today)
        rows = {r["entity"]["name"]: r for r in body["rows"]}
        assert set(rows) == {"储配站", "储配站二"}
        heard, silent = rows["储配站"], rows["储配站二"]
        assert (heard["sites_due"], heard["sites_connected"], heard["networking_rate"]) == (1, 1, 1.0)
        assert (heard["devices_due"], heard["devices_online"], heard["online_rate"]) == (1, 1, 1.0)
        assert (silent["sites_connected"], silent["networking_rate"], silent["online_rate"]) == (0, 0.0, 0.0)
        assert heard["assessment_line"] == 0.9 and heard["label"] == today

        region = (await get("city", when=today, by="region", region="451200")).json()
        [district] = region["rows"]
        assert (district["entity"]["code"], district["sites"], district["networking_rate"]) == ("451202", 2, 0.5)

        datong = (await get("datong", when=today[:7], by="enterprise")).json()
        assert [r["entity"]["name"] for r in datong["rows"]] == ["大同某工厂"]
        assert "储配站" not in str(datong) and HECHI_MN not in str(datong)

        ranks = (await get("city", "/api/v1/stats/rankings", when=today, region="451200")).json()
        assert [(r["rank"], r["row"]["entity"]["code"]) for r in ranks["districts"]] == [(1, "451202")]
        assert {r["row"]["entity"]["name"] for r in ranks["enterprises"]} == {"河池市液化石油气公司"}

        bad = assert_problem(await get("city", when="2026-13"), 400)
        assert "not a date in the calendar" in str(bad["detail"])
        bad = assert_problem(await get("city", when="October"), 400)
        assert "2026-10-05, 2026-10 or 2026" in str(bad["detail"])
        bad = assert_problem(await get("city", when=today, period="month"), 400)
        assert "longer than the window" in str(bad["detail"])
        bad = assert_problem(await get("datong", when=today, region="451202"), 400)
        assert "none of your regions" in str(bad["detail"]) and "140213" in str(bad["detail"])
        assert_problem(await get("city", when=today, by="district"), 400)
        assert_problem(await get("city", when=today, month="2026-10"), 400)

        spec = (await client.get("/api/v1/openapi.json")).json()
        schemas = spec["components"]["schemas"]
        row = next(v for k, v in schemas.items() if k.endswith("FigureRow"))
        assert {"transmission_rate", "effective_rate", "online_time_rate", "max_multiple",
                "purifier_run_rate"} <= set(row["properties"])

    run(fleet.settings, scenario)
