"""The registry over HTTP on a real platform: lists in scope, create/change/retire, import, device tokens, latest."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest

from forewarn.app import Platform
from forewarn.protocols.hj212.codec import wrap
from tests.integration.api import DATONG_MN, HECHI_MN, Fleet, assert_problem, bearer, run
from tests.integration.harness import FakeDevice, data_packet, segment

pytestmark = pytest.mark.integration


def audit_rows(fleet: Fleet, entity: str) -> list[tuple[str, str, str | None, str | None]]:
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        return db.execute("SELECT actor, action, before, after FROM audit_log WHERE entity = ? ORDER BY id",
                          (entity,)).fetchall()
    finally:
        db.close()


def test_each_role_lists_exactly_its_own_sites_devices_and_points(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        seen = {}
        for name in ("city", "hechi", "datong", "gasco", "factory"):
            answer = await client.get("/api/v1/sites", headers=bearer(fleet.tokens[name]))
            assert answer.status_code == 200, answer.text
            seen[name] = sorted(s["name"] for s in answer.json()["items"])
        assert seen["city"] == ["一号车间", "储配站", "储配站二"]
        assert seen["hechi"] == seen["gasco"] == ["储配站", "储配站二"]
        assert seen["datong"] == seen["factory"] == ["一号车间"]

        devices = (await client.get("/api/v1/devices", headers=bearer(fleet.tokens["datong"]))).json()
        assert [d["mn"] for d in devices["items"]] == [DATONG_MN] and devices["total"] == 1
        assert devices["items"][0]["online"] is False  # never heard
        regions = (await client.get("/api/v1/regions", headers=bearer(fleet.tokens["hechi"]))).json()
        assert [r["code"] for r in regions["items"]] == ["451202"]
        enterprises = (await client.get("/api/v1/enterprises", headers=bearer(fleet.tokens["factory"]))).json()
        assert [e["name"] for e in enterprises["items"]] == ["大同某工厂"]

        # one page at a time, with the address of the next
        first = (await client.get("/api/v1/sites?limit=2", headers=bearer(fleet.tokens["city"]))).json()
        assert len(first["items"]) == 2 and first["total"] == 3 and first["next"]
        rest = (await client.get(first["next"], headers=bearer(fleet.tokens["city"]))).json()
        assert len(rest["items"]) == 1 and rest["next"] is None

        # CSV that Excel opens with its Chinese intact
        csv = await client.get("/api/v1/sites?format=csv", headers=bearer(fleet.tokens["hechi"]))
        assert csv.headers["content-type"].startswith("text/csv")
        text = csv.content.decode("utf-8")
        assert text.startswith("\ufeffid,") and "储配站二" in text and "一号车间" not in text

        # another district's site is 404, as one that does not exist
        datong_site = (await client.get("/api/v1/sites", headers=bearer(fleet.tokens["datong"]))).json()["items"][0]
        assert_problem(await client.get(f"/api/v1/sites/{datong_site['id']}", headers=bearer(fleet.tokens["hechi"])),
                       404)
        assert_problem(await client.get("/api/v1/sites/999999", headers=bearer(fleet.tokens["city"])), 404)

    run(fleet.settings, scenario)


def test_a_district_creates_a_site_and_device_in_its_region_only_and_the_device_reports(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        enterprise = (await client.get("/api/v1/enterprises", headers=hechi)).json()["items"][0]
        site = await client.post("/api/v1/sites", headers=hechi, json={
            "enterprise_id": enterprise["id"], "name": "新储配站", "site_type": "液化石油气储配站",
            "region_code": "451202", "longitude": 108.1, "latitude": 24.7})
        assert site.status_code == 201, site.text
        new_site = site.json()
        assert new_site["site_type"] == "lpg_station" and new_site["region_name"] == "金城江区"

        # not into another district, and not moved out of its own
        assert_problem(await client.post("/api/v1/sites", headers=hechi, json={
            "enterprise_id": enterprise["id"], "name": "越界站", "site_type": "lpg_station", "region_code": "140213"}),
            403)
        assert_problem(await client.patch(f"/api/v1/sites/{new_site['id']}", headers=hechi,
                                          json={"region_code": "140213"}), 403)
        # the other district cannot even see it
        assert_problem(await client.patch(f"/api/v1/sites/{new_site['id']}", headers=bearer(fleet.tokens["datong"]),
                                          json={"name": "x"}), 404)
        # every mistake at once
        bad = assert_problem(await client.post("/api/v1/sites", headers=hechi, json={
            "name": "", "site_type": "spaceport", "latitude": 200, "colour": "red"}), 400)
        for word in ("enterprise_id", "site_type", "latitude", "colour", "name"):
            assert word in str(bad["detail"])
        # a framework-level mistake is worded too: which parameter, what it got, what it takes
        words = assert_problem(await client.get("/api/v1/sites?limit=0", headers=hechi), 400)
        assert words["detail"] == "query parameter limit='0' must be a whole number >= 1"
        # read-only roles cannot write
        assert_problem(await client.post("/api/v1/sites", headers=bearer(fleet.tokens["gasco"]), json={}), 403)

        mn = "451202A1FE00000000000099"
        device = await client.post("/api/v1/devices", headers=hechi, json={
            "site_id": new_site["id"], "mn": mn, "password": "123456", "interval_s": 30})
        assert device.status_code == 201, device.text
        assert "password" not in device.json()
        assert_problem(await client.post("/api/v1/devices", headers=hechi, json={
            "site_id": new_site["id"], "mn": mn}), 409)

        # the running platform takes the new device's data as soon as it notices the registry change
        await asyncio.sleep(0.5)
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(data_packet(mn))
        assert (await dev.answer()).cn == "9014"
        await dev.close()
        points = (await client.get(f"/api/v1/points?mn={mn}", headers=hechi)).json()["items"]
        assert points and all(p["discovered"] is True for p in points)

        # retiring keeps the device and its history; its packets now go to quarantine, not lost
        retired = await client.delete(f"/api/v1/devices/{device.json()['id']}", headers=hechi)
        assert retired.status_code == 200 and retired.json()["status"] == "retired"
        await asyncio.sleep(0.5)
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(data_packet(mn, qn="20261122080100123"))
        assert (await dev.answer()).cn == "9014"
        await dev.close()

        # the audit log, as the city reads it over HTTP: who, what, before and after
        log = (await client.get("/api/v1/audit?entity=site", headers=bearer(fleet.tokens["city"]))).json()["items"]
        created = [e for e in log if e["action"] == "site.create"][0]
        assert created["actor"] == "hechi" and created["before"] is None and created["after"]["name"] == "新储配站"
        assert_problem(await client.get("/api/v1/audit", headers=hechi), 403)
        actions = [(actor, action) for actor, action, _, _ in audit_rows(fleet, "site")]
        assert ("hechi", "site.create") in actions
        device_audit = audit_rows(fleet, "device")
        assert [a for _, a, _, _ in device_audit][-2:] == ["device.create", "device.retire"]
        assert all("123456" not in (after or "") for _, _, _, after in device_audit)

    run(fleet.settings, scenario)


def test_bulk_import_by_http_checks_the_sheet_and_the_districts_reach(fleet: Fleet) -> None:
    header = ("region_code,region_name,parent_region_code,enterprise,site,site_type,longitude,latitude,mn,password\n")

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = {**bearer(fleet.tokens["hechi"]), "Content-Type": "text/csv"}
        good = header + "451202,金城江区,451200,河池新公司,一号站,lpg_station,108.0,24.6,451202NEW0000000000000001,\n"
        answer = await client.post("/api/v1/registry/import", headers=hechi, content=good.encode("utf-8"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["imported"]["devices_added"] == 1
        # each entity the import changed is in the audit log with its before and after
        log = (await client.get("/api/v1/audit?entity=device", headers=bearer(fleet.tokens["city"]))).json()["items"]
        [entry] = [e for e in log if e["entity_id"] == "451202NEW0000000000000001"]
        assert entry["action"] == "device.import" and entry["actor"] == "hechi" and entry["before"] is None
        assert entry["after"]["site"] == "一号站" and entry["after"]["region_code"] == "451202"
        assert "password" not in entry["after"]

        other = header + "140213,平城区,140200,大同新厂,二号车间,factory,113.3,40.1,140213NEW0000000000000001,\n"
        assert_problem(await client.post("/api/v1/registry/import", headers=hechi, content=other.encode()), 403)
        broken = header + "451202,金城江区,451200,河池新公司,二号站,spaceport,abc,24.6,,\n"
        problem = assert_problem(await client.post("/api/v1/registry/import", headers=hechi, content=broken.encode()),
                                 400)
        assert "site_type" in str(problem["detail"]) and "longitude" in str(problem["detail"])
        assert "forewarn-import" not in str(problem)  # no server paths in the answer
        assert_problem(await client.post("/api/v1/registry/import", headers={**hechi, "Content-Type": "text/plain"},
                                         content=good.encode()), 415)
        sites = (await client.get("/api/v1/sites?region=451202", headers=bearer(fleet.tokens["city"]))).json()
        assert "一号站" in [s["name"] for s in sites["items"]] and "二号车间" not in str(sites)

    run(fleet.settings, scenario)


def test_a_device_token_from_the_api_lets_the_device_push_and_revoking_stops_it(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        device = (await client.get(f"/api/v1/devices?mn={HECHI_MN}", headers=hechi)).json()["items"][0]
        issued = await client.post(f"/api/v1/devices/{device['id']}/tokens", headers=hechi)
        assert issued.status_code == 201, issued.text
        path = issued.json()["telemetry_path"]
        assert (await client.post(path, json={"a34002": 45.2})).status_code == 200
        datong_device = (await client.get("/api/v1/devices", headers=bearer(fleet.tokens["datong"]))).json()["items"][0]
        assert_problem(await client.post(f"/api/v1/devices/{datong_device['id']}/tokens", headers=hechi), 404)
        revoked = await client.delete(f"/api/v1/devices/{device['id']}/tokens", headers=hechi)
        assert revoked.status_code == 200 and revoked.json()["revoked"] >= 1
        assert (await client.post(path, json={"a34002": 45.2})).status_code in (401, 404)

    run(fleet.settings, scenario)


def test_latest_values_per_site_and_per_region_within_scope(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        for mn in (HECHI_MN, DATONG_MN):
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(mn))
            assert (await dev.answer()).cn == "9014"
            newer = wrap(segment(mn, "DataTime=20261122080100;a34002-Rtd=51.5,a34002-Flag=N",
                                 qn="20261122080100123"))
            await dev.send(newer)
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        city = bearer(fleet.tokens["city"])
        sites = {s["name"]: s["id"] for s in (await client.get("/api/v1/sites", headers=city)).json()["items"]}
        latest = (await client.get(f"/api/v1/sites/{sites['储配站']}/latest", headers=city)).json()["items"]
        pm10 = [row for row in latest if row["code"] == "a34002"]
        assert pm10 and pm10[0]["value"] == 51.5 and pm10[0]["ts"].startswith("2026-11-22T08:01:00+08:00")
        assert_problem(await client.get(f"/api/v1/sites/{sites['储配站']}/latest", headers=bearer(fleet.tokens["datong"])),
                       404)
        # a district asking for the whole city gets its own district's sites only
        region = (await client.get("/api/v1/regions/451200/latest", headers=bearer(fleet.tokens["hechi"]))).json()
        assert {row["mn"] for row in region["items"]} == {HECHI_MN}
        everything = (await client.get("/api/v1/regions/45/latest", headers=city)).json()
        assert {row["mn"] for row in everything["items"]} == {HECHI_MN}
        csv = await client.get("/api/v1/regions/140213/latest?format=csv", headers=city)
        assert DATONG_MN in csv.text and HECHI_MN not in csv.text

    run(fleet.settings, scenario)


def test_a_district_cannot_take_over_or_reparent_what_lies_outside_it(fleet: Fleet) -> None:
    header = "region_code,region_name,parent_region_code,enterprise,site,site_type,longitude,latitude,mn,password\n"

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        csv = {**hechi, "Content-Type": "text/csv"}
        # Datong's enterprise and site named in Hechi's sheet with a Hechi region and a new MN
        takeover = header + "451202,金城江区,451200,大同某工厂,一号车间,factory,108.0,24.6,451202STEAL000000000001,\n"
        problem = assert_problem(await client.post("/api/v1/registry/import", headers=csv, content=takeover.encode()),
                                 403)
        assert "大同某工厂" in str(problem["detail"])
        datong_sites = (await client.get("/api/v1/sites", headers=bearer(fleet.tokens["datong"]))).json()["items"]
        assert [s["region_code"] for s in datong_sites] == ["140213"]

        # regions nest by their codes: not under another city, not under themselves, not in a cycle
        assert_problem(await client.post("/api/v1/regions", headers=hechi,
                                         json={"code": "451202001", "name": "x", "parent_code": "140200"}), 400)
        made = await client.post("/api/v1/regions", headers=hechi,
                                 json={"code": "451202001", "name": "某街道", "parent_code": "451202"})
        assert made.status_code == 201, made.text
        assert_problem(await client.patch("/api/v1/regions/451202001", headers=hechi,
                                          json={"parent_code": "451202001"}), 400)
        # the district cannot move, retire or bring back the region its reach starts from
        assert_problem(await client.patch("/api/v1/regions/451202", headers=hechi, json={"parent_code": None}),
                       403)
        assert_problem(await client.delete("/api/v1/regions/451202", headers=hechi), 403)
        # a city administrator retires a region and brings it back
        city = bearer(fleet.tokens["city"])
        assert (await client.delete("/api/v1/regions/451202001", headers=city)).json()["status"] == "retired"
        assert (await client.patch("/api/v1/regions/451202001", headers=city,
                                   json={"status": "active"})).json()["status"] == "active"

    run(fleet.settings, scenario)


def test_a_retired_device_is_refused_at_once_and_text_must_be_real_unicode(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        device = (await client.get(f"/api/v1/devices?mn={HECHI_MN}", headers=hechi)).json()["items"][0]
        path = f"/api/v1/{fleet.device_tokens[HECHI_MN]}/telemetry"
        assert (await client.post(path, json={"a34002": 1.0})).status_code == 200
        assert (await client.delete(f"/api/v1/devices/{device['id']}", headers=hechi)).status_code == 200
        # no wait for the registry poll: the very next push is refused
        assert_problem(await client.post(path, json={"a34002": 2.0}), 401)
        # a lone surrogate is no character: 400, not a server error
        lone = b'{"name": "\\ud800", "region_code": "451202"}'
        assert_problem(await client.post("/api/v1/enterprises", headers={**hechi, "Content-Type": "application/json"},
                                         content=lone), 400)
        assert_problem(await client.post("/api/v1/auth/login", headers={"Content-Type": "application/json"},
                                         content=b'{"name": "\\ud800", "password": "x"}'), 400)
        pair = b'{"name": "\\ud83d\\ude00 \xe7\x87\x83\xe6\xb0\x94", "region_code": "451202"}'  # an emoji is fine
        assert (await client.post("/api/v1/enterprises", headers={**hechi, "Content-Type": "application/json"},
                                  content=pair)).status_code == 201

    run(fleet.settings, scenario)


def test_csv_exports_cannot_carry_formulas_into_excel_and_names_cannot_carry_control_characters(
        fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        made = await client.post("/api/v1/enterprises", headers=city,
                                 json={"name": '=HYPERLINK("http://evil.example","点我")', "region_code": "451202"})
        assert made.status_code == 201, made.text
        csv = await client.get("/api/v1/enterprises?format=csv", headers=city)
        assert csv.headers["content-type"] == "text/csv; charset=utf-8"
        assert "'=HYPERLINK" in csv.text and ',=HYPERLINK' not in csv.text
        assert_problem(await client.post("/api/v1/enterprises", headers=city,
                                         json={"name": "坏\u0000名字", "region_code": "451202"}), 400)
        site = (await client.get("/api/v1/sites", headers=city)).json()["items"][0]
        assert_problem(await client.post("/api/v1/devices", headers=city,
                                         json={"site_id": site["id"], "mn": "４５１２０２ＦＵＬＬＷＩＤＴＨ"}), 400)

    run(fleet.settings, scenario)


def test_the_registry_export_holds_ones_own_scope_and_imports_back(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = bearer(fleet.tokens["hechi"])
        sheet = await client.get("/api/v1/registry/export", headers=hechi)
        assert sheet.status_code == 200 and sheet.content.startswith("\ufeff".encode())
        assert HECHI_MN in sheet.text and DATONG_MN not in sheet.text
        again = await client.post("/api/v1/registry/import", headers={**hechi, "Content-Type": "text/csv"},
                                  content=sheet.content)
        assert again.status_code == 200, again.text
        assert again.json()["imported"]["devices_added"] == 0
        book = await client.get("/api/v1/registry/export?format=xlsx", headers=hechi)
        assert book.status_code == 200 and book.content[:2] == b"PK"  # a zip: the XLSX workbook
        assert_problem(await client.get("/api/v1/registry/export", headers=bearer(fleet.tokens["gasco"])), 403)

    run(fleet.settings, scenario)


def test_second_review_fixes_for_the_registry(fleet: Fleet) -> None:
    header = "region_code,region_name,parent_region_code,enterprise,site,site_type,longitude,latitude,mn,password\n"

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        # a point made by hand gets what the catalogue knows, so the rules find it
        device = (await client.get(f"/api/v1/devices?mn={HECHI_MN}", headers=city)).json()["items"][0]
        point = await client.post("/api/v1/points", headers=city,
                                  json={"device_id": device["id"], "code": "a34002", "field": "Avg"})
        assert point.status_code == 201, point.text
        assert (point.json()["quantity"], point.json()["unit"]) != ("unknown", "")
        assert_problem(await client.post("/api/v1/points", headers=city, json={
            "device_id": device["id"], "code": "a34004", "field": "Avg", "lower": 100, "upper": 1}), 400)

        # an import never moves an enterprise's registered region; what it changes is audited
        sheet = header + "140213,平城区,140200,河池市液化石油气公司,大同分站,lpg_station,,,140213GASCO0000000000001,\n"
        answer = await client.post("/api/v1/registry/import", headers={**city, "Content-Type": "text/csv"},
                                   content=sheet.encode())
        assert answer.status_code == 200, answer.text  # a site without a position is allowed
        gasco = (await client.get("/api/v1/enterprises?region=451202", headers=city)).json()["items"]
        assert "河池市液化石油气公司" in [e["name"] for e in gasco]
        log = (await client.get("/api/v1/audit?entity=device&entity_id=140213GASCO0000000000001",
                                headers=city)).json()["items"]
        assert log and log[0]["after"]["region_code"] == "140213"

        # a retired site's devices are refused, as a retired device is
        site = (await client.get(f"/api/v1/sites/{device['site_id']}", headers=city)).json()
        assert (await client.delete(f"/api/v1/sites/{site['id']}", headers=city)).status_code == 200
        assert_problem(await client.post(f"/api/v1/{fleet.device_tokens[HECHI_MN]}/telemetry",
                                         json={"a34002": 1.0}), 401)

        # a CSV named after an odd path still downloads; the access log cannot be forged
        odd = await client.get("/api/v1/regions/%E2%80%83451202/latest?format=csv", headers=city)
        assert odd.status_code in (200, 404)
        await client.get("/api/v1/nothing%0a2026-12-01 22:00:00,000 203.0.113.9 POST /api/v1/auth/login 200")
        log_text = (fleet.settings.data_dir / "access.log").read_text(encoding="utf-8")
        assert not any(line.startswith("2026-12-01 22:00:00,000 203.0.113.9") for line in log_text.splitlines())

    run(fleet.settings, scenario)
