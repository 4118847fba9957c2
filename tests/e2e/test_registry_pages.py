"""The registry pages in a real browser, as a city administrator: a sheet with a mistake shows
the finding on its row and imports nothing; fixed, it imports; the new site is put into
maintenance with a reason, kept in its history; an MN that sends without being registered is
claimed to a site. Screenshots of each tab in Chinese and English."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from forewarn.access.users import issue_api_token
from forewarn.cli.common import open_store
from forewarn.protocols.hj212.crc import hj212_crc
from tests.e2e.conftest import CITY_USER, GAS_MN, GAS_PASSWORD, TZ, Server, shot
from tests.integration.harness import FakeDevice, segment

HEADER = "region_code,region_name,parent_region_code,enterprise,site,site_type,longitude,latitude,mn,password\n"
NEW_MN = "451202E2EREG000000000001"
UNKNOWN_MN = "451202E2EUNKNOWN00000001"
GOOD_ROW = f"451202,金城江区,451200,E2E测试燃气公司,E2E储配站,lpg_station,108.05,24.70,{NEW_MN},\n"
BAD_ROW = "451202,金城江区,451200,E2E测试燃气公司,E2E二号站,spaceport,108.06,24.71,451202E2EREG000000000002,\n"


def _client(server: Server) -> httpx.Client:
    """The city administrator's API, to check what the pages did (by token: the cookie is Secure)."""
    with open_store(server.settings) as store:
        token = issue_api_token(store.db, CITY_USER, "e2e registry", actor="e2e", origin="test", days=1).token
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _wait(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def test_a_sheet_with_a_mistake_shows_it_on_its_row_and_once_fixed_imports(
        server: Server, open_page: Any, tmp_path: Path) -> None:
    sheet = tmp_path / "e2e-台账.csv"
    sheet.write_text(HEADER + GOOD_ROW + BAD_ROW, encoding="utf-8")
    page = open_page(path="/registry?tab=upload")
    page.set_input_files(".reg-upload input[name=sheet]", str(sheet))
    page.click(".reg-upload button[type=submit]")
    finding = page.wait_for_selector("tr.finding[data-row='3']")
    text = finding.inner_text()
    assert "e2e-台账.csv" in text and "site_type" in text and "spaceport" in text
    assert page.query_selector("tr.finding[data-row='2']") is None  # the good row has no finding
    shot(page, "registry-upload-findings-zh")
    api = _client(server)
    try:
        assert api.get("/api/v1/devices", params={"mn": NEW_MN}).json()["items"] == []  # nothing imported

        sheet.write_text(HEADER + GOOD_ROW + BAD_ROW.replace("spaceport", "lpg_station"), encoding="utf-8")
        page.set_input_files(".reg-upload input[name=sheet]", str(sheet))
        page.click(".reg-upload button[type=submit]")
        page.wait_for_selector(".reg-imported")
        assert page.query_selector("tr.finding") is None
        [device] = api.get("/api/v1/devices", params={"mn": NEW_MN}).json()["items"]
        assert device["site"] == "E2E储配站"
    finally:
        api.close()


def test_a_site_goes_into_maintenance_with_a_reason_from_the_sites_tab(server: Server, open_page: Any,
                                                                       tmp_path: Path) -> None:
    api = _client(server)
    try:
        if not api.get("/api/v1/devices", params={"mn": NEW_MN}).json()["items"]:
            sheet = HEADER + GOOD_ROW
            api.post("/api/v1/registry/import", content=sheet.encode(),
                     headers={"Content-Type": "text/csv"}).raise_for_status()
        [device] = api.get("/api/v1/devices", params={"mn": NEW_MN}).json()["items"]
        site_id = device["site_id"]
        page = open_page(path="/registry?tab=sites")
        # the new site's device never reported: among Jinchengjiang's sites offline
        page.fill("form.filters [name=region]", "451202")
        page.select_option("form.filters [name=online]", "false")
        page.click("form.filters button[type=submit]")
        page.click(f"tr[data-site='{site_id}'] .reg-lifecycle")
        page.wait_for_selector(f".reg-site[data-site='{site_id}'] .reg-lifecycle-form")
        page.select_option(".reg-lifecycle-form [name=status]", "maintenance")
        page.fill(".reg-lifecycle-form [name=reason]", "储罐年度检验")
        page.click(".reg-lifecycle-form button[type=submit]")
        page.wait_for_selector(f".reg-site[data-site='{site_id}'] h2 .badge[data-status=maintenance]")
        page.wait_for_selector(f"tr[data-site='{site_id}'] .badge[data-status=maintenance]")
        assert "储罐年度检验" in page.inner_text(".reg-site")
        shot(page, "registry-sites-lifecycle-zh")
        state = api.get(f"/api/v1/sites/{site_id}/lifecycle").json()
        assert state["status"] == "maintenance"
        assert (state["changes"][0]["reason"], state["changes"][0]["actor"]) == ("储罐年度检验", "city")
    finally:
        api.close()


def test_a_quarantined_mn_is_claimed_to_a_site(server: Server, open_page: Any) -> None:
    now = datetime.now(TZ).replace(microsecond=0)
    server.send(UNKNOWN_MN, f"DataTime={now:%Y%m%d%H%M%S};a34002-Rtd=41.5,a34002-Flag=N")
    api = _client(server)
    try:
        site = api.get("/api/v1/sites", params={"region": "451202", "limit": 1}).json()["items"][0]
        page = open_page(path="/registry?tab=quarantine")
        page.click(f"tr[data-mn='{UNKNOWN_MN}'] .reg-claim")
        page.select_option(".reg-claim-form [name=site_id]", str(site["id"]))
        page.fill(".reg-claim-form [name=device_kind]", "扬尘监测仪")
        shot(page, "registry-quarantine-claim-zh")
        page.click(".reg-claim-form button[type=submit]")
        page.wait_for_selector(f"tr[data-mn='{UNKNOWN_MN}'] .reg-claim", state="detached")
        [device] = _wait(lambda: api.get("/api/v1/devices", params={"mn": UNKNOWN_MN}).json()["items"],
                         "the claimed device is registered")
        assert device["site_id"] == site["id"] and device["device_kind"] == "扬尘监测仪"
        # its quarantined packet is now a stored reading of the site
        latest = api.get(f"/api/v1/sites/{site['id']}/latest").json()["items"]
        assert any(row["mn"] == UNKNOWN_MN and row["value"] == 41.5 for row in latest)
    finally:
        api.close()


def test_every_registry_tab_in_both_languages(server: Server, open_page: Any) -> None:
    for lang, sites_label in (("zh", "站点"), ("en", "Sites")):
        for tab in ("sites", "devices", "points", "upload", "quarantine"):
            page = open_page(lang=lang, path=f"/registry?tab={tab}")
            page.wait_for_selector(f".reg-tabs a.active[data-tab={tab}]")
            if tab != "upload":
                page.wait_for_selector(".reg-table tbody tr")
            assert page.inner_text(".reg-tabs a[data-tab=sites]") == sites_label
            shot(page, f"registry-{tab}-{lang}")
            page.close()


def test_a_district_administrator_sees_and_imports_only_within_its_district(
        server: Server, open_page: Any, tmp_path: Path) -> None:
    page = open_page(user="pingcheng", path="/registry?tab=sites")
    page.wait_for_selector(".reg-table tbody tr[data-site]")
    regions = {cell.inner_text() for cell in page.query_selector_all(".reg-table tbody tr td:nth-child(4)")}
    assert regions == {"平城区"}, regions
    assert page.query_selector(".reg-tabs a[data-tab=quarantine]") is None  # claims are the city's
    shot(page, "registry-sites-district-zh")
    # a row of another district is a finding on its row, and says nothing of what lies there
    sheet = tmp_path / "other.csv"
    sheet.write_text(HEADER + GOOD_ROW, encoding="utf-8")
    page.goto("/registry?tab=upload")
    page.set_input_files(".reg-upload input[name=sheet]", str(sheet))
    page.click(".reg-upload button[type=submit]")
    finding = page.wait_for_selector("tr.finding[data-row='2']").inner_text()
    assert "451202" in finding and "region_code" in finding


def _lowercase_crc_frame(mn: str, password: str) -> bytes:
    """A real-time packet whose HJ 212 CRC is written in lowercase (tolerated by default)."""
    now = datetime.now(TZ).replace(microsecond=0)
    for value in range(100):  # a value whose CRC has a letter in it, so that case shows
        seg = segment(mn, f"DataTime={now:%Y%m%d%H%M%S};a34002-Rtd={value}", pw=password).encode()
        crc = b"%04x" % hj212_crc(seg)
        if crc != crc.upper():
            return b"##%04d%s%s\r\n" % (len(seg), seg, crc)
    raise AssertionError("no CRC with a letter")


def test_the_devices_tab_shows_the_deviations_tolerated_from_a_device(server: Server, open_page: Any) -> None:
    async def send() -> None:
        dev = await FakeDevice.connect(server.platform.hj212_port)
        try:
            await dev.send(_lowercase_crc_frame(GAS_MN, GAS_PASSWORD))
            assert (await dev.answer(timeout=10)).cn == "9014"  # the default stores it
        finally:
            await dev.close()

    server.call(send())
    for lang, tip in (("zh", "已容忍的 HJ 212 偏差（次数）："), ("en", "HJ 212 deviations tolerated (times):")):
        page = open_page(lang=lang, path="/registry?tab=devices")
        page.fill(".filters input[name=mn]", GAS_MN)
        page.click(".filters button[type=submit]")
        badge = page.wait_for_selector(f"tr[data-mn='{GAS_MN}'] td.quirks .badge")
        title = badge.get_attribute("title") or ""
        assert title.startswith(tip) and "crc_lowercase ×" in title, title
        assert int(badge.inner_text()) >= 1
        shot(page, f"registry-devices-quirks-{lang}")
        page.close()
