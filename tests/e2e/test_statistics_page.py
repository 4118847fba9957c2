"""The statistics page in a real browser, over the demo city as the simulator feeds it: Datong's
month as the report shows it (the city first, then its districts; charts drawn; the rankings),
the XLSX and the printable page downloaded through the page's own session, a scheduled report
listed for the city and not for a district's administrator; zh and en screenshots."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from datetime import datetime, timedelta
from typing import Any

from forewarn.reports.schedule import make_due_reports
from tests.e2e.conftest import TZ, Server, shot


def until(page: Any, expression: str, timeout: float = 10.0) -> Any:
    """Poll an expression with evaluate (wait_for_function's string form is refused by the CSP)."""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        page.wait_for_timeout(50)
    return value


def _schedule(server: Server) -> str:
    """Yesterday's daily report of Datong, made as the scheduler makes it (into DATA/reports)."""
    now = datetime.now(TZ).replace(hour=2, minute=0, second=0, microsecond=0)
    settings = dataclasses.replace(server.settings, report_regions="140200")
    db = sqlite3.connect(f"{server.settings.db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        make_due_reports(db, settings, int(now.timestamp() * 1000))  # nothing when made before
    finally:
        db.close()
    name = f"daily-region-140200-{(now - timedelta(days=1)).date().isoformat()}.xlsx"
    assert (server.settings.data_dir / "reports" / name).is_file()
    return name


def test_the_statistics_page_shows_a_citys_month_with_charts_and_downloads(server: Server, open_page: Any) -> None:
    scheduled = _schedule(server)
    month = datetime.now(TZ).strftime("%Y-%m")
    for lang in ("zh", "en"):
        page = open_page(lang=lang, path=f"/statistics?kind=monthly&region=140200&period={month}")
        page.wait_for_selector("#st-title")
        title = page.text_content("#st-title")
        assert title == (f"大同市{month}月报" if lang == "zh" else f"大同市 monthly report {month}")
        sections = page.eval_on_selector_all("[data-section]", "els => els.map((e) => e.dataset.section)")
        assert sections == ["summary", "transmission", "online", "exceedances", "alarms", "facilities",
                            "rank_parts", "rank_enterprises"]
        first = page.eval_on_selector_all("[data-section=transmission] tbody tr td:first-child",
                                          "els => els.map((e) => e.textContent)")
        assert first[0] == "大同市" and "平城区" in first  # the city, then its districts
        # the same numbers as the API's report: the page draws what it is answered
        api = page.evaluate("(p) => fetch(p).then((r) => r.json())",
                            f"/api/v1/reports/monthly?region=140200&period={month}")
        rows = next(s for s in api["sections"] if s["key"] == "transmission")["rows"]
        assert page.text_content("[data-section=transmission] tbody tr:first-child td:nth-child(4)") == \
            f"{rows[0][3]:,}"
        until(page, "document.querySelectorAll('.st-chart canvas').length >= 6")  # ECharts drew each chart
        download = page.evaluate("""() => fetch(document.getElementById('st-xlsx').href)
            .then(async (r) => [r.status, r.headers.get('content-type'), new Uint8Array(await r.arrayBuffer()).slice(0, 2).join(',')])""")
        assert download[0] == 200 and "spreadsheetml" in download[1] and download[2] == "80,75"  # "PK": a zip
        printable = page.evaluate("() => fetch(document.getElementById('st-html').href).then((r) => r.text())")
        assert "<svg" in printable and ("数据传输有效率" if lang == "zh" else "Transmission and validity") in printable
        files = page.eval_on_selector_all("#st-files a", "els => els.map((e) => e.textContent)")
        assert scheduled in files
        shot(page, f"statistics-{lang}")


def test_a_districts_administrator_sees_its_own_district_and_no_city_report(server: Server, open_page: Any) -> None:
    _schedule(server)
    page = open_page(user="pingcheng", path="/statistics")
    page.wait_for_selector("#st-title")
    assert page.text_content("#st-title").startswith("平城区")
    # the scheduler may have made the district's own reports by now; Datong's are the city's, never listed here
    listed = page.eval_on_selector_all("#st-files a", "els => els.map((e) => e.getAttribute('href'))")
    assert not [href for href in listed if "140200" in href], listed
    assert all("140213" in href for href in listed), listed
