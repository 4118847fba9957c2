"""The linkage page in a real browser: the city administrator sees each forwarding target (here
none is configured: the page says so and where to read how); a district administrator has no
such page (the targets span every region)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Server, shot


def test_the_linkage_page_is_the_whole_platforms(server: Server, open_page: Any) -> None:
    for lang, words in (("zh", "没有配置转发目标"), ("en", "No forwarding targets")):
        page = open_page(lang=lang, path="/linkage")
        page.wait_for_selector("#page[data-targets]")
        assert page.get_attribute("#page", "data-page") == "linkage"
        assert words in page.inner_text("table.linkage") and "docs/linkage.md" in page.inner_text("table.linkage")
        assert page.locator("nav a[href='/linkage']").count() == 1
        shot(page, f"linkage-{lang}")
    district = open_page("pingcheng")
    assert district.locator("nav a[href='/linkage']").count() == 0
