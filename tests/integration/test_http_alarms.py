"""The alarms API on a real platform: alarms raised by HJ 212 data over the real socket, listed
and shown within each user's scope, handled to closure step by step with the right roles, every
step in the audit log with its user, and silences for maintenance."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx

from forewarn.access.audit import history
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import DATONG_MN, HECHI_MN, TS_MS, Fleet, assert_problem, bearer, run
from tests.integration.harness import data_packet, send_stored


def lel(mn: str, minute: int, value: float) -> bytes:
    """A combustible gas reading (%LEL) at 08:mm on 2026-11-22: 25 and more raises gas.lel."""
    return data_packet(mn, f"DataTime=2026112208{minute:02d}00;GD1-LEL={value},GD1-Flag=N",
                       qn=f"2026112208{minute:02d}00000")


def platform_wide_alarm(settings: Settings) -> None:
    """An alarm that belongs to no site (as a platform-wide rule would raise)."""
    now = int(time.time() * 1000)  # raised just now: not yet escalated for want of an acknowledgement
    store = SqliteStore(settings.db_path, Catalogue())
    try:
        store.db.execute(
            "INSERT INTO alarms (rule_id, rule_version, subject, level, state, condition, live, title_zh, title_en, "
            "explanation_zh, explanation_en, first_ts, last_ts, created_ms, updated_ms) VALUES "
            "('platform.test', 1, 'platform', 2, 'firing', 'active', 1, '平台告警', 'Platform alarm', '全平台', "
            "'platform-wide', ?, ?, ?, ?)", (TS_MS - 3_600_000, TS_MS - 3_600_000, now, now))
        store.db.commit()
    finally:
        store.close()


def test_alarms_are_listed_and_shown_within_each_users_scope(fleet: Fleet) -> None:
    platform_wide_alarm(fleet.settings)  # alarm 1
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 40))  # alarm 2
        city = await client.get("/api/v1/alarms", headers=bearer(t["city"]))
        assert city.status_code == 200, city.text
        assert [(a["id"], a["rule_id"]) for a in city.json()["items"]] == [(2, "gas.lel"), (1, "platform.test")]

        hechi = (await client.get("/api/v1/alarms", headers=bearer(t["hechi"]))).json()
        assert hechi["total"] == 1 and hechi["next"] is None
        [alarm] = hechi["items"]
        assert (alarm["state"], alarm["level"], alarm["site"], alarm["enterprise"], alarm["mn"]) == (
            "firing", 1, "储配站", "河池市液化石油气公司", HECHI_MN)
        assert alarm["first_ts"] == "2026-11-22T08:00:00+08:00"
        assert alarm["explanation"].startswith("GD1 可燃气体浓度 40 %LEL") and alarm["title"] == "可燃气体浓度报警"
        english = (await client.get("/api/v1/alarms?lang=en", headers=bearer(t["hechi"]))).json()["items"][0]
        assert "GD1 combustible gas 40 %LEL ≥ first-stage limit 25 %LEL" in english["explanation"]
        gasco = (await client.get("/api/v1/alarms", headers=bearer(t["gasco"]))).json()
        assert [a["id"] for a in gasco["items"]] == [2]
        for outsider in ("datong", "factory"):
            empty = (await client.get("/api/v1/alarms", headers=bearer(t[outsider]))).json()
            assert (empty["items"], empty["total"]) == ([], 0)
            assert_problem(await client.get("/api/v1/alarms/2", headers=bearer(t[outsider])), 404)
        # the platform-wide alarm has no region: a district never sees it, even by its id
        assert_problem(await client.get("/api/v1/alarms/1", headers=bearer(t["hechi"])), 404)
        assert (await client.get("/api/v1/alarms/1", headers=bearer(t["city"]))).json()["title"] == "平台告警"
        assert_problem(await client.get("/api/v1/alarms/999", headers=bearer(t["city"])), 404)

        csv = await client.get("/api/v1/alarms", params={"format": "csv"}, headers=bearer(t["hechi"]))
        assert csv.headers["content-type"].startswith("text/csv")
        lines = csv.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("id,rule_id,") and len(lines) == 2
        assert "gas.lel" in lines[1] and "河池市液化石油气公司" in lines[1] and "2026-11-22T08:00:00+08:00" in lines[1]

        async def ids(**query: str) -> list[int]:
            answer = await client.get("/api/v1/alarms", params=query, headers=bearer(t["city"]))
            assert answer.status_code == 200, answer.text
            return [a["id"] for a in answer.json()["items"]]

        assert await ids(region="451200") == [2]  # a city's code covers its districts
        assert await ids(region="140213") == []
        assert await ids(site=str(alarm["site_id"])) == [2]
        assert await ids(level="2") == [1]
        assert await ids(rule="gas.lel", state="firing", open="true") == [2]
        assert await ids(open="false") == []
        assert await ids(**{"from": "2026-11-22T07:30:00+08:00"}) == [2]
        assert await ids(to=str(TS_MS - 1)) == [1]
        first = (await client.get("/api/v1/alarms?limit=1", headers=bearer(t["city"]))).json()
        assert [a["id"] for a in first["items"]] == [2] and first["total"] == 2
        second = (await client.get(first["next"], headers=bearer(t["city"]))).json()
        assert [a["id"] for a in second["items"]] == [1] and second["next"] is None
        for bad in ({"state": "burning"}, {"level": "7"}, {"limit": "0"}, {"from": "yesterday"}, {"lang": "fr"},
                    {"format": "xml"}, {"from": "2026-11-23", "to": "2026-11-22"}):
            assert_problem(await client.get("/api/v1/alarms", params=bad, headers=bearer(t["city"])), 400)
        assert_problem(await client.get("/api/v1/alarms"), 401)

        shown = (await client.get("/api/v1/alarms/2", headers=bearer(t["gasco"]))).json()
        assert [(s["step"], s["actor"]) for s in shown["steps"]] == [("fired", "system")]
        assert shown["steps"][0]["at"].endswith("+08:00")
        assert [(e["code"], e["field"], e["value"], e["ts"]) for e in shown["evidence"]] == [
            ("GD1", "LEL", 40.0, "2026-11-22T08:00:00+08:00")]
        assert shown["title_en"] == "Combustible gas alarm" and shown["explanation"] == alarm["explanation"]

    run(fleet.settings, scenario)


def test_an_alarm_is_handled_to_closure_by_the_right_people(fleet: Fleet, tmp_path: Path) -> None:
    t = fleet.tokens

    async def step(client: httpx.AsyncClient, who: str, action: str, body: object = None) -> httpx.Response:
        return await client.post(f"/api/v1/alarms/1/{action}", json=body, headers=bearer(t[who]))

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 40))
        # the gas company records on-site checks of its own alarms but does not acknowledge them
        refused = assert_problem(await step(client, "gasco", "ack"), 403)
        assert "handle alarms" in str(refused["detail"])
        early = assert_problem(await step(client, "hechi", "close"), 409)
        assert early["detail"] == "alarm 1 is firing: cannot close now; acknowledge it first (ack)"
        assert early["state"] == "firing"
        assert "logged-in user" in str(assert_problem(await step(client, "hechi", "ack", {"by": "王科长"}), 400)["detail"])
        # outside the scope it is as if the alarm did not exist, for steps too
        assert_problem(await step(client, "datong", "ack"), 404)
        assert_problem(await step(client, "factory", "record", {"findings": "x"}), 404)

        acked = await step(client, "hechi", "ack")
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged" and acked.json()["step"]["actor"] == "hechi"
        too_soon = assert_problem(await step(client, "gasco", "record", {"findings": "阀门泄漏"}), 409)
        assert "dispatch it" in str(too_soon["detail"])
        assert_problem(await step(client, "hechi", "dispatch", {"note": "快去"}), 400)
        sent = (await step(client, "hechi", "dispatch", {"to": "金城江区燃气执法队", "note": "立即处置"})).json()
        assert (sent["state"], sent["assignee"]) == ("dispatched", "金城江区燃气执法队")
        assert_problem(await step(client, "gasco", "record", {"measures": "关阀"}), 400)
        photo = b"\xff\xd8 a photo of the valve"
        checked = await step(client, "gasco", "record", {
            "findings": "灌装间阀门泄漏", "measures": "已关阀更换垫片",
            "attachments": [{"name": "../现场照片.jpg", "base64": base64.b64encode(photo).decode()}]})
        assert checked.status_code == 200, checked.text
        assert checked.json()["state"] == "checked"
        kept = checked.json()["step"]["data"]["attachments"][0]
        assert kept["name"] == "现场照片.jpg" and "stored" not in kept  # no server paths in answers
        stored = list((fleet.settings.attachments_path / "1").iterdir())
        assert [p.read_bytes() for p in stored] == [photo]
        # the photo comes back from the API, to those who may see the alarm
        got = await client.get(kept["url"], headers=bearer(t["gasco"]))
        assert got.status_code == 200 and got.content == photo and got.headers["content-type"] == "image/jpeg"
        assert_problem(await client.get(kept["url"], headers=bearer(t["datong"])), 404)
        assert (await step(client, "gasco", "comment", {"text": "复查无泄漏"})).status_code == 200
        assert_problem(await step(client, "gasco", "resolve"), 403)
        assert (await step(client, "hechi", "resolve")).json()["state"] == "resolved"
        # the gas still reads 40 %LEL: closing now would hide a leak that is still going on
        still = assert_problem(await step(client, "hechi", "close", {"note": "审核通过"}), 409)
        assert "still active" in str(still["detail"])
        await send_stored(platform, lel(HECHI_MN, 1, 5))  # back to normal
        closed = await step(client, "hechi", "close", {"note": "审核通过"})
        assert closed.json()["state"] == "closed"
        assert (await step(client, "city", "comment", {"text": "归档"})).status_code == 200  # comments: any time
        assert_problem(await step(client, "city", "comment", {}), 400)

        shown = (await client.get("/api/v1/alarms/1", headers=bearer(t["hechi"]))).json()
        assert [(s["step"], s["actor"]) for s in shown["steps"]] == [
            ("fired", "system"), ("acknowledged", "hechi"), ("dispatched", "hechi"), ("checked", "gasco"),
            ("commented", "gasco"), ("resolved", "hechi"), ("cleared", "system"), ("closed", "hechi"),
            ("commented", "city")]
        assert shown["steps"][3]["data"]["findings"] == "灌装间阀门泄漏"
        assert shown["state"] == "closed" and shown["closed"] is not None and shown["acked"] is not None
        closed_list = (await client.get("/api/v1/alarms?state=closed", headers=bearer(t["hechi"]))).json()
        assert [a["id"] for a in closed_list["items"]] == [1]

    run(fleet.settings, scenario)
    store = SqliteStore(fleet.settings.db_path, Catalogue())
    try:
        entries = history(store.db, "alarm", 1)
    finally:
        store.close()
    assert [(e.action, e.actor) for e in entries] == [
        ("alarm.ack", "hechi"), ("alarm.dispatch", "hechi"), ("alarm.record", "gasco"), ("alarm.comment", "gasco"),
        ("alarm.resolve", "hechi"), ("alarm.close", "hechi"), ("alarm.comment", "city")]
    assert entries[0].before == {"state": "firing", "level": 1, "assignee": ""}
    assert entries[0].after == {"state": "acknowledged", "level": 1, "assignee": ""}
    assert entries[1].after == {"state": "dispatched", "level": 1, "assignee": "金城江区燃气执法队"}
    assert {e.origin for e in entries} == {"api"}


def test_silences_are_scoped_audited_and_keep_alarms_quiet(fleet: Fleet) -> None:
    t = fleet.tokens
    now_ms = int(time.time() * 1000)
    until = now_ms + 3_600_000

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        post = client.post
        made = await post("/api/v1/silences", json={"mn": HECHI_MN, "until": until, "note": "更换传感器"},
                          headers=bearer(t["hechi"]))
        assert made.status_code == 201, made.text
        assert (made.json()["mn"], made.json()["actor"], made.json()["note"]) == (HECHI_MN, "hechi", "更换传感器")
        assert made.json()["until"].endswith("+08:00")
        assert_problem(await post("/api/v1/silences", json={"mn": HECHI_MN, "until": until},
                                  headers=bearer(t["datong"])), 404)
        assert_problem(await post("/api/v1/silences", json={"mn": HECHI_MN, "until": until},
                                  headers=bearer(t["gasco"])), 403)
        for bad in ({"mn": HECHI_MN}, {"mn": HECHI_MN, "site_id": 1, "until": until},
                    {"mn": HECHI_MN, "until": now_ms - 1000}, {"mn": HECHI_MN, "until": "next week"},
                    {"mn": HECHI_MN, "until": until, "from": until + 1}):
            assert_problem(await post("/api/v1/silences", json=bad, headers=bearer(t["hechi"])), 400)
        datong_site = platform.read_store.db.execute(  # type: ignore[union-attr]
            "SELECT d.site_id FROM devices d WHERE d.mn = ?", (DATONG_MN,)).fetchone()[0]
        site = await post("/api/v1/silences", json={"site_id": datong_site, "until": until, "rule_id": "gas.lel"},
                          headers=bearer(t["datong"]))
        assert site.status_code == 201 and site.json()["site"] == "一号车间"

        listed = (await client.get("/api/v1/silences", headers=bearer(t["hechi"]))).json()
        assert [s["mn"] for s in listed["items"]] == [HECHI_MN]
        assert [s["site"] for s in (await client.get("/api/v1/silences", headers=bearer(t["city"]))).json()["items"]
                ] == ["储配站", "一号车间"]
        assert (await client.get("/api/v1/silences", headers=bearer(t["factory"]))).json()["total"] == 1

        await send_stored(platform, lel(HECHI_MN, 0, 40))
        [alarm] = (await client.get("/api/v1/alarms", headers=bearer(t["hechi"]))).json()["items"]
        assert alarm["silenced"] is True  # recorded, not announced

        # a silence set by mistake ends now, in scope only; then it is no longer listed
        silence_id = made.json()["id"]
        assert_problem(await client.delete(f"/api/v1/silences/{silence_id}", headers=bearer(t["datong"])), 404)
        assert_problem(await client.delete(f"/api/v1/silences/{silence_id}", headers=bearer(t["gasco"])), 403)
        ended = await client.delete(f"/api/v1/silences/{silence_id}", headers=bearer(t["hechi"]))
        assert ended.status_code == 200, ended.text
        assert (await client.get("/api/v1/silences", headers=bearer(t["hechi"]))).json()["total"] == 0
        assert_problem(await client.delete(f"/api/v1/silences/{silence_id}", headers=bearer(t["hechi"])), 409)

    run(fleet.settings, scenario)
    store = SqliteStore(fleet.settings.db_path, Catalogue())
    try:
        entries = history(store.db, "silence", 1)
    finally:
        store.close()
    assert [(e.action, e.actor) for e in entries] == [("silence.create", "hechi"), ("silence.end", "hechi")]
    assert entries[0].after is not None and entries[0].after["mn"] == HECHI_MN
