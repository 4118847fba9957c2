"""The screening over HTTP: a run on demand over the planted month, findings listed within
one's scope with their evidence, confirm into an audit mark, dismiss with a reason, refusals."""

from __future__ import annotations

from pathlib import Path

import httpx

from forewarn.access.users import create_user, find_enterprise, issue_api_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import PASSWORD, assert_problem, bearer, run
from tests.integration.screening_month import DUST, GAS, MONTH_END, MONTH_START, fleet_settings, write_month


def _users(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with SqliteStore(settings.db_path, Catalogue()) as store:
        db, kw = store.db, {"actor": "test", "origin": "test"}
        create_user(db, "city", PASSWORD, "city_admin", **kw)
        create_user(db, "li", PASSWORD, "auditor", region_code="451202", **kw)
        create_user(db, "yizhou", PASSWORD, "district_admin", region_code="451281", **kw)
        create_user(db, "site1", PASSWORD, "enterprise_user", enterprise_id=find_enterprise(db, "建设工地1"), **kw)
        return {n: issue_api_token(db, n, **kw).token for n in ("city", "li", "yizhou", "site1")}


def test_screening_over_http(tmp_path: Path) -> None:
    settings = fleet_settings(tmp_path)
    write_month(settings, plant=True)
    tokens = _users(settings)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        as_ = {name: bearer(token) for name, token in tokens.items()}
        kinds = (await client.get("/api/v1/screening/kinds", headers=as_["li"])).json()
        assert {k["kind"] for k in kinds} == {"constant", "impossible", "neighbour_drop", "clock_drift", "repeats"}
        assert_problem(await client.post("/api/v1/screening/runs", headers=as_["site1"], json={}), 403)
        assert_problem(await client.get("/api/v1/screening/findings", headers=as_["site1"]), 403)
        assert_problem(await client.post("/api/v1/screening/runs", headers=as_["city"],
                                         json={"start": MONTH_START}), 400)
        # a district's run screens its own sites only
        mine = await client.post("/api/v1/screening/runs", headers=as_["yizhou"],
                                 json={"start": MONTH_START, "end": MONTH_END})
        assert mine.status_code == 200, mine.text
        assert mine.json()["by_kind"] == {"impossible": 1}
        everything = await client.post("/api/v1/screening/runs", headers=as_["city"],
                                       json={"start": MONTH_START, "end": MONTH_END})
        assert everything.json()["found"] == 6 and everything.json()["new"] == 5
        listed = (await client.get("/api/v1/screening/findings", headers=as_["yizhou"])).json()
        assert [f["mn"] for f in listed["items"]] == [GAS] and listed["total"] == 1
        gas_id = listed["items"][0]["id"]
        page = (await client.get("/api/v1/screening/findings?state=open&kind=neighbour_drop",
                                 headers=as_["li"])).json()
        (drop,) = page["items"]
        assert drop["mn"] == DUST[3] and drop["evidence"]["neighbours"] and drop["kind_zh"] == "骤降低于周边"
        assert_problem(await client.get(f"/api/v1/screening/findings/{gas_id}", headers=as_["li"]), 404)
        csv = await client.get("/api/v1/screening/findings?format=csv&kind=neighbour_drop", headers=as_["li"])
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("id,kind,kind_zh,state") and len(lines) == 2 and DUST[3] in lines[1]
        assert_problem(await client.get("/api/v1/screening/findings?state=closed", headers=as_["li"]), 400)
        assert_problem(await client.post(f"/api/v1/screening/findings/{drop['id']}/confirm", headers=as_["site1"],
                                         json={}), 403)
        confirmed = await client.post(f"/api/v1/screening/findings/{drop['id']}/confirm", headers=as_["li"],
                                      json={"note": "wet inlet on the inspector's photo"})
        assert confirmed.status_code == 200, confirmed.text
        mark_id = confirmed.json()["audit_mark_id"]
        mark = (await client.get(f"/api/v1/data-marks/{mark_id}", headers=as_["li"])).json()
        assert (mark["target"], mark["target_id"], mark["valid"], mark["reason"]) == (
            "point", drop["point_id"], False, "suspected_tampering")
        assert (mark["start_ms"], mark["end_ms"]) == (drop["start_ms"], drop["end_ms"])
        assert_problem(await client.post(f"/api/v1/screening/findings/{drop['id']}/dismiss", headers=as_["li"],
                                         json={"note": "changed my mind"}), 409)
        flat = (await client.get("/api/v1/screening/findings?kind=constant", headers=as_["li"])).json()["items"][0]
        assert_problem(await client.post(f"/api/v1/screening/findings/{flat['id']}/dismiss", headers=as_["li"],
                                         json={}), 400)
        dismissed = (await client.post(f"/api/v1/screening/findings/{flat['id']}/dismiss", headers=as_["li"],
                                       json={"note": "fog all morning"})).json()
        assert (dismissed["state"], dismissed["decided_by"], dismissed["decision_note"]) == (
            "dismissed", "li", "fog all morning")
        assert_problem(await client.post(f"/api/v1/screening/findings/{gas_id}/confirm", headers=as_["li"],
                                         json={}), 404)

    run(settings, scenario)
