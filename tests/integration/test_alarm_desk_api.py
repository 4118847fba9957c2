"""What the alarm desk needs from the API, on a real platform: one step on many alarms (each
audited, each answered as alone), the desk's filters with their mistakes named, typed answers
in the OpenAPI document, the rule and limits an alarm was judged by, and on-site checks that
carry the 8 MB of photos the README promises."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from forewarn.app import Platform
from tests.integration.api import HECHI_MN, HECHI_MN2, Fleet, assert_problem, bearer, run
from tests.integration.harness import send_stored
from tests.integration.test_http_alarms import lel, platform_wide_alarm

pytestmark = pytest.mark.integration


def _audited(fleet: Fleet) -> list[tuple[str, str, str, str]]:
    import sqlite3

    db = sqlite3.connect(fleet.settings.db_path)
    try:
        return [tuple(r) for r in db.execute(  # type: ignore[misc]
            "SELECT entity_id, action, actor, origin FROM audit_log WHERE entity = 'alarm' ORDER BY id")]
    finally:
        db.close()


def test_one_step_on_many_alarms_is_audited_per_alarm_and_answered_per_id(fleet: Fleet) -> None:
    platform_wide_alarm(fleet.settings)  # alarm 1: no district sees it
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 40))   # alarm 2
        await send_stored(platform, lel(HECHI_MN2, 0, 60))  # alarm 3

        async def bulk(who: str, body: object) -> httpx.Response:
            return await client.post("/api/v1/alarms/bulk", json=body, headers=bearer(t[who]))

        answer = await bulk("hechi", {"ids": [2, 3, 1, 999, 2], "step": "ack", "note": "夜班统一确认"})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert (got["step"], got["done"], got["failed"]) == ("ack", 2, 2)
        assert got["results"] == [
            {"id": 2, "ok": True, "state": "acknowledged"}, {"id": 3, "ok": True, "state": "acknowledged"},
            {"id": 1, "ok": False, "status": 404, "detail": "no alarm 1 in your scope"},
            {"id": 999, "ok": False, "status": 404, "detail": "no alarm 999 in your scope"}]

        # a step out of order is refused in bulk with the very words of the single step
        single = assert_problem(await client.post("/api/v1/alarms/2/ack", headers=bearer(t["hechi"])), 409)
        again = (await bulk("hechi", {"ids": [2], "step": "ack"})).json()
        assert again["results"] == [{"id": 2, "ok": False, "status": 409, "detail": single["detail"]}]

        assert "handle alarms" in str(assert_problem(await bulk("gasco", {"ids": [2], "step": "ack"}), 403)["detail"])
        record = assert_problem(await bulk("hechi", {"ids": [2], "step": "record"}), 400)
        assert "alarm by alarm" in str(record["detail"])
        for bad in ({"ids": [2]}, {"ids": "2", "step": "ack"}, {"ids": [True], "step": "ack"},
                    {"ids": [2], "step": "dispatch"}, {"ids": [], "step": "ack"},
                    {"ids": [2], "step": "comment"}, {"ids": [2], "step": "ack", "by": "王科长"}):
            assert_problem(await bulk("hechi", bad), 400)

        sent = (await bulk("hechi", {"ids": [2, 3], "step": "dispatch", "to": "金城江区燃气执法队"})).json()
        assert [r["state"] for r in sent["results"]] == ["dispatched", "dispatched"]
        shown = (await client.get("/api/v1/alarms/3", headers=bearer(t["gasco"]))).json()
        assert shown["assignee"] == "金城江区燃气执法队"
        assert [(s["step"], s["actor"], s["note"]) for s in shown["steps"]][1:] == [
            ("acknowledged", "hechi", "夜班统一确认"), ("dispatched", "hechi", "")]
        commented = (await bulk("gasco", {"ids": [2, 3], "step": "comment", "note": "已到场"})).json()
        assert commented["done"] == 2

    run(fleet.settings, scenario)
    assert _audited(fleet) == [
        ("2", "alarm.ack", "hechi", "api"), ("3", "alarm.ack", "hechi", "api"),
        ("2", "alarm.dispatch", "hechi", "api"), ("3", "alarm.dispatch", "hechi", "api"),
        ("2", "alarm.comment", "gasco", "api"), ("3", "alarm.comment", "gasco", "api")]


def test_the_desk_filters_name_their_mistakes_and_answers_are_typed(fleet: Fleet) -> None:
    platform_wide_alarm(fleet.settings)  # alarm 1, rule platform.test: domain "other"
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 40))  # alarm 2, gas

        async def ids(**query: str) -> list[int]:
            answer = await client.get("/api/v1/alarms", params=query, headers=bearer(t["city"]))
            assert answer.status_code == 200, answer.text
            return [a["id"] for a in answer.json()["items"]]

        assert await ids(domain="gas") == [2]
        assert await ids(domain="dust") == []
        assert await ids(domain="other") == [1]
        listed = (await client.get("/api/v1/alarms", headers=bearer(t["city"]))).json()["items"]
        assert [a["domain"] for a in listed] == ["gas", "other"]

        typo = assert_problem(await client.get("/api/v1/alarms?levle=2", headers=bearer(t["city"])), 400)
        assert "'levle'" in str(typo["detail"]) and "level" in str(typo["detail"])
        wrong = assert_problem(await client.get("/api/v1/alarms?domain=water", headers=bearer(t["city"])), 400)
        assert "domain='water'" in str(wrong["detail"]) and "gas, dust, fume, power, dq" in str(wrong["detail"])
        assert_problem(await client.get("/api/v1/alarms?state=burning", headers=bearer(t["city"])), 400)
        assert_problem(await client.get("/api/v1/silences?site=1", headers=bearer(t["city"])), 400)

        detail = (await client.get("/api/v1/alarms/2?lang=en", headers=bearer(t["hechi"]))).json()
        rule = detail["rule"]
        assert (rule["id"], rule["version"], rule["kind"], rule["op"]) == ("gas.lel", detail["rule_version"],
                                                                          "threshold", ">=")
        assert [(lim["level"], lim["value"]) for lim in rule["limits"]] == [(1, 25.0), (2, 50.0)]
        assert "GB/T 50493" in rule["source"]
        assert detail["next_steps"] == ["ack", "dispatch", "comment"]
        gasco = (await client.get("/api/v1/alarms/2", headers=bearer(t["gasco"]))).json()
        assert gasco["next_steps"] == ["comment"]  # the gas company records checks once dispatched
        await client.post("/api/v1/alarms/2/dispatch", json={"to": "执法队"}, headers=bearer(t["hechi"]))
        gasco = (await client.get("/api/v1/alarms/2", headers=bearer(t["gasco"]))).json()
        assert gasco["next_steps"] == ["record", "comment"]

        doc = (await client.get("/api/v1/openapi.json")).json()
        schemas = doc["components"]["schemas"]

        def body_of(method: str, path: str) -> dict[str, object]:
            content = doc["paths"][path][method]["responses"]
            ok = content.get("200") or content.get("201")
            ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            return schemas[ref]  # type: ignore[no-any-return]

        page = body_of("get", "/api/v1/alarms")
        assert {"items", "total", "next"} <= set(page["properties"])  # type: ignore[call-overload]
        shown = body_of("get", "/api/v1/alarms/{alarm_id}")
        assert {"steps", "evidence", "rule", "next_steps", "domain"} <= set(shown["properties"])  # type: ignore
        assert "results" in body_of("post", "/api/v1/alarms/bulk")["properties"]  # type: ignore[operator]
        assert "state" in body_of("post", "/api/v1/alarms/{alarm_id}/ack")["properties"]  # type: ignore[operator]
        assert "from" in body_of("post", "/api/v1/silences")["properties"]  # type: ignore[operator]
        state = json.dumps(schemas)
        assert '"acknowledged"' in state  # the states are an enumeration a client can read

    run(fleet.settings, scenario)


def test_an_on_site_check_carries_eight_megabytes_of_photos(fleet: Fleet) -> None:
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 40))
        await client.post("/api/v1/alarms/1/dispatch", json={"to": "执法队"}, headers=bearer(t["hechi"]))
        big = bytes(range(256)) * (7_500_000 // 256)  # 7.5 MB: more than the old limit let through
        photos = [{"name": "全景.jpg", "base64": base64.b64encode(big[:4_000_000]).decode()},
                  {"name": "阀门.jpg", "base64": base64.b64encode(big[4_000_000:]).decode()}]
        checked = await client.post("/api/v1/alarms/1/record", json={"findings": "阀门泄漏", "attachments": photos},
                                    headers=bearer(t["gasco"]), timeout=60)
        assert checked.status_code == 200, checked.text
        kept = checked.json()["step"]["data"]["attachments"]
        assert sum(f["bytes"] for f in kept) == len(big)

        over = [{"name": "大.jpg", "base64": base64.b64encode(b"\0" * 8_050_000).decode()}]
        refused = assert_problem(await client.post(
            "/api/v1/alarms/1/record", json={"findings": "x", "attachments": over}, headers=bearer(t["gasco"]),
            timeout=60), 413)
        assert "8,000,000" in str(refused["detail"]) and "attachments" in str(refused["detail"])
        huge = b'{"findings": "x", "attachments": [{"name": "a.jpg", "base64": "' + b"A" * 11_000_000 + b'"}]}'
        too_big = assert_problem(await client.post(
            "/api/v1/alarms/1/record", content=huge, headers={**bearer(t["gasco"]), "Content-Type": "application/json"},
            timeout=60), 413)
        assert "8 MB" in str(too_big["detail"]) and "ingest" not in str(too_big["detail"])

    run(fleet.settings, scenario)
