"""The reports over HTTP, on a real platform over the worked day's store (test_reports.py's
city): made on request as JSON, XLSX and HTML, scoped; the scheduled files listed and served
only to those who may read their whole subject."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json

import httpx
import pytest
from openpyxl import load_workbook

from forewarn.access.users import create_user, issue_api_token
from forewarn.app import Platform
from forewarn.reports.schedule import make_due_reports, reports_dir
from forewarn.reports.xlsx import HEADER_ROW
from tests.integration.test_reports import hechi  # noqa: F401  (the fixture)
from tests.integration.test_stats_figures import DAY, City, city  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
DAILY = "/api/v1/reports/daily"


def _users(c: City) -> dict[str, str]:
    db = c.store.db
    enterprise = {name: i for i, name in db.execute("SELECT id, name FROM enterprises")}
    kw = {"actor": "test", "origin": "test"}
    create_user(db, "city", PASSWORD, "city_admin", **kw)
    create_user(db, "hechi", PASSWORD, "district_admin", region_code="451200", **kw)
    create_user(db, "jcj", PASSWORD, "district_admin", region_code="451202", **kw)
    create_user(db, "nandan", PASSWORD, "district_admin", region_code="451221", **kw)
    create_user(db, "cook", PASSWORD, "enterprise_user", enterprise_id=enterprise["河池某餐馆"], **kw)
    return {name: issue_api_token(db, name, **kw).token for name in ("city", "hechi", "jcj", "nandan", "cook")}


def _run(c: City, scenario) -> None:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(c.settings, http_host="127.0.0.1", http_port=0)

    async def main() -> None:
        platform = Platform(settings, http=True, clock=lambda: (c.t0 + 4 * DAY) / 1000)  # the clock, set
        await platform.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}", timeout=30) as client:
                await scenario(client)
        finally:
            await platform.stop()

    asyncio.run(main())


def test_a_report_on_request_as_json_xlsx_and_html_within_ones_scope(hechi: City) -> None:  # noqa: F811
    tokens = _users(hechi)
    restaurant = hechi.store.db.execute("SELECT id FROM enterprises WHERE name = '河池某餐馆'").fetchone()[0]
    gas = hechi.store.db.execute("SELECT id FROM enterprises WHERE name = '南丹某燃气公司'").fetchone()[0]

    async def scenario(client: httpx.AsyncClient) -> None:
        def get(who: str, path: str = DAILY, **query: object) -> object:
            return client.get(path, params=query, headers={"Authorization": f"Bearer {tokens[who]}"})

        day = {"period": "2026-10-05"}
        answer = await get("city", region="451200", **day)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["title"]["zh"] == "河池市2026-10-05日报"
        section = next(s for s in report["sections"] if s["key"] == "transmission")
        assert [r[0] for r in section["rows"]] == ["河池市", "金城江区", "南丹县"]
        assert section["rows"][1][-1] == 0.9398 and section["columns"][-1]["kind"] == "rate"

        xlsx = await get("city", region="451200", format="xlsx", **day)
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert xlsx.headers["content-disposition"] == 'attachment; filename="daily-region-451200-2026-10-05.xlsx"'
        ws = load_workbook(io.BytesIO(xlsx.content))["数据传输有效率"]
        assert ws.cell(HEADER_ROW + 2, 1).value == "金城江区" and ws.cell(HEADER_ROW + 2, 9).value == 0.9398

        # the day has ended: its figures are kept a few minutes (a change shows after that), per scope
        with hechi.store.db:
            hechi.store.db.execute("UPDATE alarms SET created_ms = created_ms - 30 * 86400000")  # out of the day
        again = (await get("city", region="451200", lang="en", **day)).json()
        assert next(s for s in again["sections"] if s["key"] == "alarms")["rows"][1][2] == 3
        assert again["title"]["en"] == "河池市 daily report 2026-10-05"
        fresh = (await get("hechi", region="451200", **day)).json()  # another scope: read anew
        assert next(s for s in fresh["sections"] if s["key"] == "alarms")["rows"][1][2] == 0

        html = await get("hechi", region="451200", format="html", lang="en", **day)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in html.headers["content-security-policy"]
        assert "<h2>Transmission and validity</h2>" in html.text and "<svg" in html.text

        # a district's administrator: its own district, not the city above it nor its neighbour
        assert (await get("jcj", region="451202", **day)).status_code == 200
        for region in ("451200", "451221"):
            refused = await get("jcj", region=region, **day)
            assert refused.status_code == 404 and "in your scope" in refused.json()["detail"]
            assert "南丹县" not in refused.text
        # an enterprise's user: its own enterprise's report, no region's, no other enterprise's
        assert (await get("cook", region="451202", **day)).status_code == 403
        own = await get("cook", enterprise=restaurant, **day)
        assert own.status_code == 200 and own.json()["subject"]["name"] == "河池某餐馆"
        assert (await get("cook", enterprise=gas, **day)).status_code == 404
        assert (await get("jcj", enterprise=gas, **day)).status_code == 404

        for query, status, says in (
                ({"region": "451200", "period": "2026-10"}, 400, "YYYY-MM-DD"),
                ({"period": "2026-10-05"}, 400, "exactly one of region"),
                ({"region": "451200", "period": "2026-10-05", "format": "pdf"}, 400, "json, xlsx or html"),
                ({"region": "451200", "period": "2026-10-05", "month": "x"}, 400, "month"),
        ):
            bad = await get("city", **query)
            assert bad.status_code == status and says in bad.json()["detail"], bad.text
        assert (await get("city", "/api/v1/reports/weekly", region="451200", period="2026-10-05")).status_code == 404
        assert (await client.get(DAILY, params={"region": "451200", **day})).status_code == 401

    _run(hechi, scenario)


def test_scheduled_files_are_listed_and_served_by_scope(hechi: City) -> None:  # noqa: F811
    tokens = _users(hechi)
    settings = dataclasses.replace(hechi.settings, report_enterprises=1)
    made = make_due_reports(hechi.store.db, settings, hechi.t0 + 27 * DAY + 2 * 3_600_000)  # 1 November, 02:00
    assert made
    folder = reports_dir(settings)
    names = {p.name for p in made}
    assert "monthly-region-451200-2026-10.xlsx" in names
    enterprises = {name: i for i, name in hechi.store.db.execute("SELECT id, name FROM enterprises")}

    async def scenario(client: httpx.AsyncClient) -> None:
        async def listed(who: str) -> set[str]:
            answer = await client.get("/api/v1/reports/files", headers={"Authorization": f"Bearer {tokens[who]}"})
            assert answer.status_code == 200, answer.text
            return {f["name"] for f in answer.json()["items"]}

        everything = await listed("city")
        assert everything == names
        assert await listed("hechi") == names  # the city's bureau sees the whole city
        jcj = await listed("jcj")
        assert {n.split("-")[2] for n in jcj if "-region-" in n} == {"451202"}
        # the enterprises wholly in the district (the restaurant, the construction company), not the gas station
        assert {int(n.split("-")[2]) for n in jcj if "-enterprise-" in n} == {
            enterprises["河池某餐馆"], enterprises["河池某建筑公司"]}
        cook = await listed("cook")
        assert cook and all(n.split("-")[1:3] == ["enterprise", str(enterprises["河池某餐馆"])] for n in cook)

        city_file = "monthly-region-451200-2026-10.xlsx"
        got = await client.get(f"/api/v1/reports/files/{city_file}", headers={"Authorization": f"Bearer {tokens['hechi']}"})
        assert got.status_code == 200 and got.content == (folder / city_file).read_bytes()
        for who in ("jcj", "nandan", "cook"):
            refused = await client.get(f"/api/v1/reports/files/{city_file}",
                                       headers={"Authorization": f"Bearer {tokens[who]}"})
            assert refused.status_code == 404, who
        html = next(n for n in jcj if n.endswith(".html"))
        page = await client.get(f"/api/v1/reports/files/{html}", headers={"Authorization": f"Bearer {tokens['jcj']}"})
        assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
        listing = (await client.get("/api/v1/reports/files", headers={"Authorization": f"Bearer {tokens['jcj']}"})).json()
        item = next(i for i in listing["items"] if i["name"] == html)
        assert item["subject_name"] in ("金城江区", "河池某餐馆", "河池某建筑公司") and item["url"].endswith(html)
        assert json.dumps(listing).count("南丹") == 0

    _run(hechi, scenario)
