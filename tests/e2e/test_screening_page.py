"""The screening page in a real browser: yesterday's doubtful data of one dust monitor (a flat
humidity for hours, a negative PM10) screened from the page, each finding shown with its
evidence chart, one confirmed into an audit mark and one dismissed with a reason, the last week screened again
without raising them anew; zh and en screenshots."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import DeviceRow, IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from tests.e2e.conftest import TZ, Server, shot

MN = "451202E2ESCREEN000000001"


def _plant_yesterday(server: Server) -> None:
    """One dust monitor far from the others, its yesterday written through the store's write path."""
    start = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    hours = [int((start + timedelta(hours=h)).timestamp() * 1000) for h in range(24)]
    with SqliteStore(server.settings.db_path, Catalogue()) as store:
        store.apply_registry([DeviceRow(region_code="451202", region_name="金城江区", parent_region_code="451200",
                                        enterprise="E2E筛查建设公司", site="E2E筛查工地", site_type="construction_site",
                                        mn=MN, longitude=109.9, latitude=25.9)], [])
        device = store.device_infos()[MN].id
        rows = []
        for i, ts in enumerate(hours):
            humidity = 55.0 if 3 <= i <= 12 else 60 + (i * 7) % 11
            pm10 = -4.0 if i == 15 else 80 + (i * 13) % 29
            rows += [("a01002", "Avg", ts, float(humidity), "N"), ("a34002", "Avg", ts, float(pm10), "N")]
        store.write(IngestBatch(readings=[ReadingBatch(device, Kind.HOUR, rows)]))


def _wait(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def test_doubtful_data_is_screened_confirmed_and_dismissed_from_the_page(server: Server, open_page: Any) -> None:
    _plant_yesterday(server)
    page = open_page(path="/screening")
    page.click("button[name=run]")  # screen yesterday (the default window)
    page.wait_for_selector("section.finding[data-kind='constant']")
    page.wait_for_selector("section.finding[data-kind='impossible']")
    assert page.query_selector("section.finding[data-kind='impossible'] .evidence-chart canvas") is not None or \
        _wait(lambda: page.query_selector("section.finding .evidence-chart canvas"), "the evidence chart")
    flat = page.query_selector("section.finding[data-kind='constant']")
    assert "恒值" in flat.inner_text() and "55" in flat.inner_text()
    shot(page, "screening-findings-zh")

    impossible = page.query_selector("section.finding[data-kind='impossible']")
    finding_id = impossible.get_attribute("data-id")
    impossible.query_selector("input[name=note]").fill("负值：采样泵故障")
    impossible.query_selector("button[name=confirm]").click()
    judged = page.wait_for_selector(f"section.finding[data-id='{finding_id}'][data-state='confirmed']")
    assert "审核标记" in judged.inner_text()
    api = server.api()
    try:
        shown = api.get(f"/api/v1/screening/findings/{finding_id}").json()
        mark = api.get(f"/api/v1/data-marks/{shown['audit_mark_id']}").json()
        assert (mark["target"], mark["valid"], mark["reason"]) == ("point", False, "fault")

        flat_id = flat.get_attribute("data-id")
        flat.query_selector("button[name=dismiss]").click()  # without a reason: refused on the page
        page.wait_for_selector("#toast:not([hidden])")
        assert api.get(f"/api/v1/screening/findings/{flat_id}").json()["state"] == "open"
        flat.query_selector("input[name=note]").fill("雾天湿度饱和")
        flat.query_selector("button[name=dismiss]").click()
        page.wait_for_selector(f"section.finding[data-id='{flat_id}'][data-state='dismissed']")
        assert api.get(f"/api/v1/screening/findings/{flat_id}").json()["decision_note"] == "雾天湿度饱和"
        # the last 7 days screened again from the page: the same two, judged already, nothing new
        page.select_option("select[name=span]", "week")
        page.click("button[name=run]")
        page.wait_for_selector("#toast:has-text('其中新增 0 条')")
        runs = api.get(f"/api/v1/screening/findings/{finding_id}").json()
        assert runs["state"] == "confirmed"
    finally:
        api.close()

    en = open_page(lang="en", path="/screening?state=")
    en.wait_for_selector(f"section.finding[data-id='{finding_id}'][data-state='confirmed']")
    assert "Doubtful data" in en.inner_text("#nav") and "physically impossible" in en.inner_text("#page")
    shot(en, "screening-findings-en")
