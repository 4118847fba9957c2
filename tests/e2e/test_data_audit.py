"""Data audit in the browser: a range selected on a point's trend is marked invalid with its
reason and note, shaded on the chart and listed; revoked from the list, the shading goes."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import GAS_MN, Server, shot


def _shaded(page: Any) -> str | None:
    value: str | None = page.get_attribute("[data-test=trend]", "data-invalid-ranges")
    return value


def test_a_range_selected_on_the_chart_is_marked_invalid_shaded_listed_and_revoked(server: Server,
                                                                                    open_page: Any) -> None:
    client = server.api()
    site_id = client.get("/api/v1/devices", params={"mn": GAS_MN}).json()["items"][0]["site_id"]
    page = open_page(lang="zh", path=f"/sites/{site_id}")
    page.wait_for_selector("[data-test=trend] canvas")
    expect(page.locator("[data-test=audit-list]")).not_to_be_empty()
    assert _shaded(page) == "0"

    page.click("[data-test=audit-select]")
    box = page.locator("[data-test=trend]").bounding_box()
    y = box["y"] + box["height"] / 3
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(page.locator("[data-test=audit-from]")).not_to_have_value("")
    expect(page.locator("[data-test=audit-to]")).not_to_have_value("")
    page.select_option("[data-test=audit-reason]", "maintenance")
    page.fill("[data-test=audit-note]", "更换探头，数据无效")
    page.click("[data-test=audit-invalid]")

    row = page.locator("[data-test=audit-list] tr[data-mark-id]").first
    expect(row).to_contain_text("维护")
    expect(row).to_contain_text("更换探头，数据无效")
    expect(page.locator("[data-test=trend]")).to_have_attribute("data-invalid-ranges", "1")
    mark_id = row.get_attribute("data-mark-id")
    mark = client.get(f"/api/v1/data-marks/{mark_id}").json()
    assert (mark["actor"], mark["reason"], mark["valid"], mark["target"]) == ("city", "maintenance", False, "point")
    assert mark["start_ms"] < mark["end_ms"]
    shot(page, "data-audit-zh")

    row.locator("[data-test=audit-revoke-note]").fill("误标")
    row.locator("[data-test=audit-revoke]").click()
    expect(page.locator(f"[data-test=audit-list] tr[data-mark-id='{mark_id}']")).to_have_class("revoked muted")
    expect(page.locator("[data-test=trend]")).to_have_attribute("data-invalid-ranges", "0")
    assert client.get(f"/api/v1/data-marks/{mark_id}").json()["revoke_note"] == "误标"

    # without an end: open-ended (a calibration going on), until ended from the list
    page.fill("[data-test=audit-from]", "2026-01-05T08:00")
    page.fill("[data-test=audit-to]", "")
    page.select_option("[data-test=audit-reason]", "calibration")
    page.click("[data-test=audit-invalid]")
    ongoing = page.locator("[data-test=audit-list] tr[data-mark-id]").first
    expect(ongoing).to_contain_text("持续中")
    ongoing.locator("[data-test=audit-end]").click()
    expect(page.locator("[data-test=audit-list] tr[data-mark-id]").first).not_to_contain_text("持续中")
    ended = client.get(f"/api/v1/data-marks/{ongoing.get_attribute('data-mark-id')}").json()
    assert ended["end_ms"] is not None and ended["reason"] == "calibration"

    english = open_page(lang="en", path=f"/sites/{site_id}")
    english.wait_for_selector("[data-test=audit-list] tr[data-mark-id]")
    expect(english.locator("[data-test=audit-marks]")).to_contain_text("Data audit")
    shot(english, "data-audit-en")
    client.close()
