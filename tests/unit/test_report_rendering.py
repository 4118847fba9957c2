"""A report's period, and how its cells are drawn: pure code, no store."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from forewarn.model import ReportKind
from forewarn.reports.html import CONTENT_SECURITY_POLICY, STYLE_HASH, render_html
from forewarn.reports.period import PeriodError, parse_period, previous_period
from forewarn.reports.render import format_of
from forewarn.reports.shapes import Chart, Column, Report, ReportSubject, Section, Text
from forewarn.reports.xlsx import HEADER_ROW, render_xlsx

TZ = ZoneInfo("Asia/Shanghai")


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=TZ).timestamp() * 1000)  # type: ignore[misc]


def test_periods_are_local_days_months_and_years() -> None:
    day = parse_period("daily", "2026-10-05", TZ)
    assert (day.start_ms, day.end_ms) == (_ms(2026, 10, 5), _ms(2026, 10, 6))
    december = parse_period("monthly", "2026-12", TZ)
    assert (december.start_ms, december.end_ms, december.figures_period) == (_ms(2026, 12, 1), _ms(2027, 1, 1), "month")
    assert parse_period("annual", "2026", TZ).end_ms == _ms(2027, 1, 1)
    assert previous_period(ReportKind.MONTHLY, _ms(2027, 1, 1, 1), TZ).label == "2026-12"
    assert previous_period(ReportKind.DAILY, _ms(2026, 3, 1, 0, 30), TZ).label == "2026-02-28"
    assert previous_period(ReportKind.ANNUAL, _ms(2027, 1, 1, 1), TZ).label == "2026"


@pytest.mark.parametrize(("kind", "text", "says"), [
    ("monthly", "2026-10-01", "YYYY-MM"), ("daily", "2026-02-30", "not a date"), ("annual", "26", "YYYY"),
    ("monthly", "2026-00", "not a date"), ("daily", "1970-01-01", "before 1971"),
])
def test_a_period_written_wrong_is_refused_with_its_form(kind: str, text: str, says: str) -> None:
    with pytest.raises(PeriodError, match=says):
        parse_period(kind, text, TZ)


def test_the_format_comes_from_the_file_name() -> None:
    assert (format_of("a.XLSX"), format_of("b.htm"), format_of("c.html")) == ("xlsx", "html", "html")
    with pytest.raises(ValueError, match=".xlsx or .html"):
        format_of("report.csv")


def _report() -> Report:
    rate = Column(key="rate", title=Text("有效传输率", "Effective rate"), kind="rate", target=0.9)
    section = Section(
        key="transmission", title=Text("数据传输有效率", "Transmission"),
        columns=[Column(key="name", title=Text("名称", "Name"), kind="text"), rate,
                 Column(key="n", title=Text("条数", "Records"), kind="int")],
        rows=[["=HYPERLINK(\"http://x\")", 0.95, 10], ["<b>站点</b>", 0.5, None]],
        chart=Chart(label="name", values=["rate"], target=0.9))
    return Report(kind="daily", subject=ReportSubject(type="region", code="451200", name="河池市"),
                  period="2026-10-05", start="2026-10-05T00:00:00+08:00", end="2026-10-06T00:00:00+08:00",
                  generated="2026-10-09T00:00:00+08:00", title=Text("河池市2026-10-05日报", "Hechi daily report"),
                  sections=[section])


def test_xlsx_text_that_looks_like_a_formula_stays_text_and_an_empty_figure_stays_empty() -> None:
    ws = load_workbook(io.BytesIO(render_xlsx(_report())))["数据传输有效率"]
    name = ws.cell(HEADER_ROW + 1, 1)
    assert (name.value, name.data_type) == ('=HYPERLINK("http://x")', "s")
    assert ws.cell(HEADER_ROW + 2, 3).value is None
    assert ws.freeze_panes == f"B{HEADER_ROW + 1}"


def test_the_printable_page_escapes_names_runs_nothing_and_draws_the_line() -> None:
    page = render_html(_report())
    assert "<b>站点</b>" not in page and "&lt;b&gt;站点&lt;/b&gt;" in page
    assert "<script" not in page and "style=" not in page  # only the stylesheet its CSP hash allows
    assert STYLE_HASH in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert 'class="n below">50.0%' in page and "考核线 90%" in page and page.count("<rect") == 3  # legend + 2 bars
    assert "Target 90%" in render_html(_report(), "en")


def test_kept_figures_expire_and_the_least_used_go_first() -> None:
    from forewarn.reports.cache import FigureCache

    now = [0.0]
    cache = FigureCache(ttl_s=300, max_reports=2, clock=lambda: now[0])
    cache.put("a", {"total": []})
    cache.put("b", {"total": []})
    assert cache.get("a") == {"total": []}  # a used: b is now the least recently used
    cache.put("c", {"total": []})
    assert cache.get("b") is None and cache.get("a") is not None
    now[0] = 301.0
    assert cache.get("a") is None and cache.get("c") is None
