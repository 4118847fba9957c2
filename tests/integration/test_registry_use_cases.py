"""The registry's use cases on a real platform: an import's findings per row, what a district is
told about another's devices, the lists' filters, and a site's lifecycle with its history."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import datetime, timedelta

import httpx
import pytest

from forewarn.app import Platform
from forewarn.cli import main
from forewarn.cli.registry import import_files
from tests.integration.api import DATONG_MN, HECHI_MN, HECHI_MN2, TZ, Fleet, assert_problem, bearer, run
from tests.integration.harness import FakeDevice, data_packet, registry_csv, send_stored

pytestmark = pytest.mark.integration

HEADER = "region_code,region_name,parent_region_code,enterprise,site,site_type,longitude,latitude,mn,password\n"
ROW = "451202,金城江区,451200,河池新公司,一号站,lpg_station,108.0,24.6,451202NEW0000000000000001,\n"
CSV = "text/csv"


def csv_headers(token: str) -> dict[str, str]:
    return {**bearer(token), "Content-Type": CSV}


def test_an_import_names_each_mistake_by_file_row_and_column_and_a_short_row_as_short(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = csv_headers(fleet.tokens["hechi"])
        sheet = (HEADER + ROW
                 + "451202,金城江区,451200,河池新公司,二号站,spaceport,108.0,24.6,451202NEW0000000000000002,\n"
                 + "\n"  # a blank line: the rows after it keep the numbers Excel shows
                 + "451202,金城江区,451200,河池新公司,三号站,lpg_station\n")
        answer = await client.post("/api/v1/registry/import", params={"filename": "设备台账.csv"}, headers=hechi,
                                   content=sheet.encode())
        problem = assert_problem(answer, 400)
        findings = problem["findings"]
        assert {"file": "设备台账.csv", "row": 3, "column": "site_type",
                "message": findings[0]["message"]} in findings  # type: ignore[operator]
        short = [f for f in findings if f["row"] == 5]  # type: ignore[union-attr]
        assert short == [{"file": "设备台账.csv", "row": 5, "column": None,
                          "message": "row has 6 of 10 columns (a comma missing, or the row cut short?)"}]
        assert "mn is empty" not in str(problem)
        # nothing was imported: the good row waits for the others
        sites = (await client.get("/api/v1/sites", headers=bearer(fleet.tokens["hechi"]))).json()["items"]
        assert "一号站" not in [s["name"] for s in sites]

        fixed = await client.post("/api/v1/registry/import", params={"filename": "设备台账.csv"}, headers=hechi,
                                  content=(HEADER + ROW).encode())
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["imported"]["devices_added"] == 1

    run(fleet.settings, scenario)


def test_an_import_refuses_another_districts_mn_without_saying_where_it_lives(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        assert (await client.get(f"/api/v1/devices?mn={DATONG_MN}", headers=hechi)).json()["items"] == []
        sheet = HEADER + f"451202,金城江区,451200,河池市液化石油气公司,储配站,lpg_station,108.0,24.6,{DATONG_MN},\n"
        problem = assert_problem(await client.post("/api/v1/registry/import", headers=csv_headers(
            fleet.tokens["hechi"]), content=sheet.encode()), 403)
        text = str(problem).replace(DATONG_MN, "MN")  # the MN is the sheet's own; where it lives is not
        assert "140213" not in text and "平城区" not in text and "一号车间" not in text
        assert problem["findings"] == [{"file": "the sheet (csv)", "row": 2, "column": "mn",
                                        "message": problem["findings"][0]["message"]}]  # type: ignore[index]
        # and the device stayed where it was
        city = bearer(fleet.tokens["city"])
        [device] = (await client.get(f"/api/v1/devices?mn={DATONG_MN}", headers=city)).json()["items"]
        assert device["region_code"] == "140213"

    run(fleet.settings, scenario)


def test_an_enterprise_counts_only_the_sites_the_caller_may_see(fleet: Fleet, tmp_path: object) -> None:
    # the Hechi gas company also runs a station in Datong
    import_files(fleet.settings, [registry_csv(tmp_path / "more.csv", [  # type: ignore[operator]
        {"mn": "140213GAS000000000000001", "region_code": "140213", "region_name": "平城区",
         "parent_region_code": "140200", "site": "大同站"}])])

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        def count(items: list[dict[str, object]]) -> object:
            return next(e["sites"] for e in items if e["name"] == "河池市液化石油气公司")

        got = {}
        for name in ("city", "hechi", "datong", "gasco"):
            answer = await client.get("/api/v1/enterprises", headers=bearer(fleet.tokens[name]))
            got[name] = count(answer.json()["items"])
        assert got == {"city": 3, "hechi": 2, "datong": 1, "gasco": 3}

    run(fleet.settings, scenario)


def test_online_filters_devices_and_sites_and_one_device_says_it_too(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        await send_stored(platform, data_packet(HECHI_MN))
        online = (await client.get("/api/v1/devices?online=true", headers=city)).json()
        offline = (await client.get("/api/v1/devices?online=false", headers=city)).json()
        assert [d["mn"] for d in online["items"]] == [HECHI_MN] and online["total"] == 1
        assert sorted(d["mn"] for d in offline["items"]) == sorted([HECHI_MN2, DATONG_MN])
        sites_on = (await client.get("/api/v1/sites?online=true", headers=city)).json()["items"]
        sites_off = (await client.get("/api/v1/sites?online=false", headers=city)).json()["items"]
        assert [s["name"] for s in sites_on] == ["储配站"] and sites_on[0]["online"] is True
        assert sorted(s["name"] for s in sites_off) == ["一号车间", "储配站二"]
        assert all(s["online"] is False for s in sites_off)

        # one device answers what the list says of it
        [listed] = online["items"]
        one = (await client.get(f"/api/v1/devices/{listed['id']}", headers=city)).json()
        assert one["online"] is True and one["last_seen_ms"] == listed["last_seen_ms"] > 0
        other = (await client.get(f"/api/v1/devices/{offline['items'][0]['id']}", headers=city)).json()
        assert other["online"] is False and other["last_seen_ms"] is None

    run(fleet.settings, scenario)


@pytest.mark.parametrize(("path", "named"), [
    ("/api/v1/devices?onlin=false", ["'onlin'", "online"]),
    ("/api/v1/devices?online=maybe", ["online"]),
    ("/api/v1/sites?status=paused", ["'paused'", "maintenance"]),
    ("/api/v1/sites?site_type=spaceport", ["'spaceport'", "lpg_station"]),
    ("/api/v1/points?levle=2", ["'levle'"]),
    ("/api/v1/regions?parnt=451200", ["'parnt'", "parent"]),
    ("/api/v1/enterprises?regoin=45", ["'regoin'", "region"]),
    ("/api/v1/audit?entity=sites", ["'sites'", "site"]),
    ("/api/v1/audit?who=root", ["'who'", "actor"]),
])
def test_unknown_query_parameters_and_values_are_refused_by_name(fleet: Fleet, path: str, named: list[str]) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        problem = assert_problem(await client.get(path, headers=bearer(fleet.tokens["city"])), 400)
        for word in named:
            assert word in str(problem["detail"])

    run(fleet.settings, scenario)


def audit(fleet: Fleet, action: str) -> list[tuple[str, str, str | None]]:
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        return db.execute("SELECT actor, entity_id, after FROM audit_log WHERE action = ? ORDER BY id",
                          (action,)).fetchall()
    finally:
        db.close()


def test_a_site_goes_into_maintenance_and_is_stopped_with_dates_and_reasons_kept_as_history(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi, datong = bearer(fleet.tokens["hechi"]), bearer(fleet.tokens["datong"])
        sites = {s["name"]: s for s in (await client.get("/api/v1/sites", headers=hechi)).json()["items"]}
        site = sites["储配站"]
        path = f"/api/v1/sites/{site['id']}/lifecycle"
        start = await client.get(path, headers=hechi)
        assert start.status_code == 200, start.text
        # registered by the fleet's import: the history starts there
        [first] = start.json()["changes"]
        assert start.json()["status"] == "active" and first["previous"] is None and "import" in first["reason"]
        assert "maintenance" in start.json()["allowed"]

        # a whole second (as a person types it), after the registration: a date before it is refused, and
        # the fleet's import may have registered the site earlier in this very second
        await asyncio.sleep(1.02 - time.time() % 1)
        today = datetime.now(TZ).date()
        moment = datetime.now(TZ).replace(microsecond=0).isoformat()
        answer = await client.post(path, headers=hechi, json={
            "status": "maintenance", "reason": "储罐年检", "effective": moment})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "maintenance" and body["since"] == moment
        change = body["changes"][0]
        assert (change["previous"], change["status"], change["reason"], change["actor"], change["origin"]) == (
            "active", "maintenance", "储罐年检", "hechi", "api")
        # the lists show it; the audit log has who, what and why
        listed = (await client.get("/api/v1/sites?status=maintenance", headers=hechi)).json()["items"]
        assert [s["name"] for s in listed] == ["储配站"]
        [(actor, entity_id, after)] = audit(fleet, "site.status")
        assert actor == "hechi" and entity_id == str(site["id"]) and "储罐年检" in (after or "")

        # mistakes, each with what to do instead
        assert_problem(await client.post(path, headers=hechi, json={"status": "new", "reason": "x"}), 409)
        assert_problem(await client.post(path, headers=hechi, json={"status": "stopped", "reason": " "}), 400)
        assert_problem(await client.post(path, headers=hechi, json={"status": "paused", "reason": "x"}), 400)
        future = (today + timedelta(days=3)).isoformat()
        assert "future" in str(assert_problem(await client.post(path, headers=hechi, json={
            "status": "stopped", "reason": "停产整改", "effective": future}), 400)["detail"])
        before = (today - timedelta(days=5)).isoformat()
        assert "before" in str(assert_problem(await client.post(path, headers=hechi, json={
            "status": "stopped", "reason": "停产整改", "effective": before}), 400)["detail"])
        assert_problem(await client.post(path, headers=hechi, json={"status": "stopped"}), 400)
        # outsiders: another district sees nothing, the enterprise may look but not change
        assert_problem(await client.get(path, headers=datong), 404)
        assert_problem(await client.post(path, headers=datong, json={"status": "stopped", "reason": "x"}), 404)
        gasco = bearer(fleet.tokens["gasco"])
        assert (await client.get(path, headers=gasco)).json()["status"] == "maintenance"
        assert_problem(await client.post(path, headers=gasco, json={"status": "active", "reason": "x"}), 403)

        stopped = (await client.post(path, headers=hechi, json={"status": "stopped", "reason": "停产整改"})).json()
        assert [c["status"] for c in stopped["changes"]] == ["stopped", "maintenance", "active"]
        assert stopped["allowed"] == ["active", "maintenance", "retired"]

    run(fleet.settings, scenario)


def test_a_retired_sites_devices_are_refused_at_once_and_their_packets_kept(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        [site] = [s for s in (await client.get("/api/v1/sites", headers=city)).json()["items"]
                  if s["name"] == "储配站二"]
        answer = await client.post(f"/api/v1/sites/{site['id']}/lifecycle", headers=city,
                                   json={"status": "retired", "reason": "站点关闭"})
        assert answer.status_code == 200, answer.text
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(data_packet(HECHI_MN2))
        assert (await dev.answer()).cn == "9014"  # kept (in quarantine), not stored as a reading
        await dev.close()
        quarantine = (await client.get("/api/v1/quarantine", headers=city)).json()["items"]
        assert HECHI_MN2 in [q["mn"] for q in quarantine]

    run(fleet.settings, scenario)


def test_a_reimport_without_site_status_keeps_a_stopped_site_and_a_sheets_status_is_history(fleet: Fleet) -> None:
    sheet = (HEADER.strip() + ",site_status\n"
             + f"451202,金城江区,451200,河池市液化石油气公司,储配站,lpg_station,108.06,24.69,{HECHI_MN},123456,")

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        site = next(s for s in (await client.get("/api/v1/sites", headers=hechi)).json()["items"]
                    if s["name"] == "储配站")
        path = f"/api/v1/sites/{site['id']}/lifecycle"
        assert (await client.post(path, headers=hechi, json={"status": "stopped", "reason": "停产"})).status_code == 200
        again = await client.post("/api/v1/registry/import", headers=csv_headers(fleet.tokens["hechi"]),
                                  content=(sheet + "\n").encode())
        assert again.status_code == 200, again.text
        assert (await client.get(path, headers=hechi)).json()["status"] == "stopped"
        # a status the lifecycle does not allow is a finding on its row
        refused = await client.post("/api/v1/registry/import", headers=csv_headers(fleet.tokens["hechi"]),
                                    content=(sheet + "new\n").encode())
        problem = assert_problem(refused, 400)
        assert problem["findings"][0]["column"] == "site_status"  # type: ignore[index]
        # a status the sheet changes is kept in the history, with the import as its reason
        moved = await client.post("/api/v1/registry/import", headers=csv_headers(fleet.tokens["hechi"]),
                                  content=(sheet + "active\n").encode())
        assert moved.status_code == 200, moved.text
        history = (await client.get(path, headers=hechi)).json()
        assert history["status"] == "active"
        assert history["changes"][0]["previous"] == "stopped" and "import" in history["changes"][0]["reason"]

    run(fleet.settings, scenario)


def test_the_command_line_changes_a_sites_status_through_the_same_use_case(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data", str(fleet.settings.data_dir)]
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        (site_id,) = db.execute("SELECT id FROM sites WHERE name = '一号车间'").fetchone()
    finally:
        db.close()
    assert main(["registry", "site-status", str(site_id), "stopped", "--reason", "责令停产整改", "--by", "zhang",
                 *data]) == 0
    assert "stopped" in capsys.readouterr().out
    # the lifecycle refuses what it refuses from the API, in the same words
    assert main(["registry", "site-status", str(site_id), "new", "--reason", "x", *data]) == 2
    assert "a stopped site cannot become new" in capsys.readouterr().err
    assert main(["registry", "site-status", str(site_id), "active", *data]) == 2
    assert "reason" in capsys.readouterr().err

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        state = (await client.get(f"/api/v1/sites/{site_id}/lifecycle", headers=bearer(fleet.tokens["datong"]))).json()
        assert state["status"] == "stopped"
        assert (state["changes"][0]["reason"], state["changes"][0]["actor"], state["changes"][0]["origin"]) == (
            "责令停产整改", "zhang", "cli")

    run(fleet.settings, scenario)
