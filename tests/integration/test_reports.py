"""Reports over a real store: the worked day of docs/statistics.md (tests/integration/
test_stats_figures.py's city, planted through the store, the aggregator, the audit and
lifecycle use cases), made into reports by the CLI, the scheduler and the use case itself,
and opened with openpyxl: the expected numbers, stored as numbers, under Chinese headers.

The city 451200 (河池市) is registered on top of that fixture, without a parent (the region
above it is found from its code), so its report has the city first and its two districts.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.cli import main
from forewarn.model import ReportKind
from forewarn.reports.build import NotForRole, ReportRequest, SubjectNotFound, build_report
from forewarn.reports.period import parse_period
from forewarn.reports.render import render
from forewarn.reports.schedule import ReportScheduler, list_reports, make_due_reports, reports_dir
from forewarn.reports.shapes import Report
from forewarn.reports.xlsx import HEADER_ROW
from forewarn.stats.figures import figures
from tests.integration.test_stats_figures import DAY, City, _mark, city  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

ALL = Scope(Role.CITY_ADMIN)


@pytest.fixture
def hechi(city: City) -> City:  # noqa: F811
    with city.store.db:
        city.store.db.execute("INSERT INTO regions (code, name) VALUES ('451200', '河池市')")
    _mark(city)  # 03:00-03:30 of the restaurant's fume marked invalid in audit, as in the worked example
    return city


def _report(c: City, kind: str, period: str, scope: Scope = ALL, **subject: object) -> Report:
    request = ReportRequest(parse_period(kind, period, c.settings.tz), **subject)  # type: ignore[arg-type]
    return build_report(c.store.db, scope, request, now_ms=c.t0 + 4 * DAY, settings=c.settings, rules=c.rules,
                        catalogue=c.store.catalogue)


def _sheet(book_bytes: bytes, title: str) -> Worksheet:
    book = load_workbook(io.BytesIO(book_bytes))
    ws = book[title]
    assert isinstance(ws, Worksheet)
    return ws


def _table(ws: Worksheet) -> tuple[list[str], dict[str, list[object]]]:
    """The sheet's headers and its rows by their first cell (the name)."""
    rows = list(ws.iter_rows(min_row=HEADER_ROW, values_only=True))
    header = [str(h) for h in rows[0]]
    return header, {str(r[0]): list(r) for r in rows[1:] if r[0] is not None}


def test_a_daily_region_report_holds_the_worked_days_numbers_as_numbers(hechi: City) -> None:
    report = _report(hechi, "daily", "2026-10-05", region="451200")
    data = render(report, "xlsx")
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["汇总", "数据传输有效率", "联网与在线", "超标情况", "告警处置", "治污设施运行",
                               "区县有效传输率排名", "企业超标次数排名"]
    ws = _sheet(data, "数据传输有效率")
    assert ws["A1"].value == "河池市2026-10-05日报 · 数据传输有效率"
    header, rows = _table(ws)
    assert header == ["名称", "区划代码", "监测点位数", "应传输条数", "实传输条数", "有效条数", "数据传输率",
                      "数据有效率", "有效传输率"]
    assert list(rows) == ["河池市", "金城江区", "南丹县"]  # the city first, then its districts
    assert rows["金城江区"][3:] == [2160, 2090, 2030, 0.9676, 0.9713, 0.9398]
    assert rows["南丹县"][3:] == [1080, 0, 0, 0.0, None, 0.0]  # never heard: no validity to speak of
    # the city's own row is the figures' own, over all of its sites: 2090 / 3240 and 2030 / 3240
    assert rows["河池市"][1:] == ["451200", rows["河池市"][2], 3240, 2090, 2030, 0.6451, 0.9713, 0.6265]
    # numbers as numbers, with a number format; a rate below the 90 % line stands out
    cell = ws.cell(HEADER_ROW + 2, 9)
    assert (cell.value, cell.data_type, cell.number_format) == (0.9398, "n", "0.0%")
    assert not cell.font.bold
    below = ws.cell(HEADER_ROW + 1, 9)
    assert below.value == 0.6265 and below.font.bold and below.font.color.rgb.endswith("C00000")
    assert ws.cell(HEADER_ROW + 2, 4).data_type == "n" and ws.cell(HEADER_ROW + 2, 4).number_format == "0"

    _, exceed = _table(_sheet(data, "超标情况"))
    assert exceed["金城江区"][2:] == [1320 + 710, 10, 10.0, 0.0049, 0.8]
    _, alarms = _table(_sheet(data, "告警处置"))
    assert alarms["金城江区"][2:7] == [3, 2, 1, 2, 2]
    assert alarms["金城江区"][7:] == [7.5, 7.5, 120.0, 120.0]  # minutes: 450 s to acknowledge, 2 h to close
    _, online = _table(_sheet(data, "联网与在线"))
    assert online["金城江区"][2:] == [2, 2, 2, 1.0, 2, 1, 0.5, 0.9694]
    _, facilities = _table(_sheet(data, "治污设施运行"))
    assert facilities["金城江区"][5:] == [4.0, 3.5, 0.875]  # the fan 4 h, the purifier with it 3.5 h

    _, ranked = _table(_sheet(data, "区县有效传输率排名"))
    assert [r[:4] for r in ranked.values()] == [[1, "金城江区", "451202", 0.9398], [2, "南丹县", "451221", 0.0]]
    _, top = _table(_sheet(data, "企业超标次数排名"))
    assert list(top.values())[0] == [1, "河池某餐馆", "451202", 10]

    header, summary = _table(_sheet(data, "汇总"))
    assert header == ["指标", "本期", "考核线", "是否达标"]
    assert summary["有效传输率"] == ["有效传输率", 0.6265, 0.9, "未达标"]
    assert summary["数据有效率"] == ["数据有效率", 0.9713, 0.9, "达标"]
    assert summary["治污设施运行率"][1:] == [None, 0.9, "无数据"]  # no production line in the city


def test_english_headers_and_a_district_report_of_its_sites(hechi: City) -> None:
    report = _report(hechi, "daily", "2026-10-05", region="451202")
    data = render(report, "xlsx", "en")
    header, rows = _table(_sheet(data, "Transmission and validity"))
    assert header[:3] == ["Name", "Region code", "Points"]
    assert list(rows)[0] == "金城江区" and set(list(rows)[1:]) == {"后厨", "一号工地"}  # no districts: its sites
    assert rows["后厨"][3:] == [1440, 1380, 1320, 0.9583, 0.9565, 0.9167]
    assert rows["金城江区"][6:] == [0.9676, 0.9713, 0.9398]  # its own row, through its registered parent


def test_an_enterprise_report_has_its_sites(hechi: City) -> None:
    enterprise = hechi.store.db.execute("SELECT id FROM enterprises WHERE name = '河池某餐馆'").fetchone()[0]
    report = _report(hechi, "daily", "2026-10-05", enterprise=enterprise)
    assert report.subject.name == "河池某餐馆" and report.file_stem() == f"daily-enterprise-{enterprise}-2026-10-05"
    rows = report.section("exceedances").rows
    assert [r[0] for r in rows] == ["河池某餐馆", "后厨"]
    assert rows[0][3] == rows[1][3] == 10


def test_scope_decides_which_reports_one_gets(hechi: City) -> None:
    nandan = Scope(Role.DISTRICT_ADMIN, region_prefix="451221")
    with pytest.raises(SubjectNotFound):
        _report(hechi, "daily", "2026-10-05", nandan, region="451202")
    with pytest.raises(SubjectNotFound):
        _report(hechi, "daily", "2026-10-05", nandan, region="451200")
    own = _report(hechi, "daily", "2026-10-05", nandan, region="451221")
    assert [r[0] for r in own.section("transmission").rows] == ["南丹县", "储配站"]
    restaurant = hechi.store.db.execute("SELECT id FROM enterprises WHERE name = '河池某餐馆'").fetchone()[0]
    with pytest.raises(NotForRole):
        _report(hechi, "daily", "2026-10-05", Scope(Role.ENTERPRISE_USER, enterprise_id=restaurant), region="451202")


def test_the_monthly_report_from_the_cli(hechi: City, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.xlsx"
    data = ["--data", str(hechi.settings.data_dir)]
    assert main(["report", "monthly", "--region", "451200", "--month", "2026-10", "-o", str(out), *data]) == 0
    assert "wrote" in capsys.readouterr().out
    _, rows = _table(_sheet(out.read_bytes(), "数据传输有效率"))
    t0 = int(datetime(2026, 10, 1, tzinfo=hechi.settings.tz).timestamp() * 1000)
    month = {r.entity.name: r for r in figures(
        hechi.store.db, ALL, by="region", region="451200", start_ms=t0, end_ms=t0 + 31 * DAY, period="month",
        now_ms=t0 + 40 * DAY, settings=hechi.settings, catalogue=hechi.store.catalogue)}
    jcj = month["金城江区"]
    assert rows["金城江区"][3:] == [jcj.records_due, 2090, 2030, jcj.transmission_rate, 0.9713, jcj.effective_rate]
    assert jcj.records_due > 2160  # due all month, received on one day
    html = tmp_path / "report.html"
    assert main(["report", "monthly", "--region", "451200", "--month", "2026-10", "-o", str(html), *data]) == 0
    page = html.read_text(encoding="utf-8")
    assert "<title>河池市2026-10月报</title>" in page and page.count("<svg") == 7 and "<script" not in page


@pytest.mark.parametrize(("args", "says"), [
    (["monthly", "--region", "451200", "--month", "2026-13"], "--month: '2026-13' is not a date in the calendar"),
    (["monthly", "--region", "451200", "--month", "2026-10-01"], "a monthly report's period is written YYYY-MM"),
    (["monthly", "--region", "999999", "--month", "2026-10"], "no region 999999 in your scope"),
    (["monthly", "--enterprise", "12345", "--month", "2026-10"], "no enterprise 12345 in your scope"),
    (["monthly", "--region", "451200", "--month", "2026-10", "-o", "r.pdf"], "end the file name in .xlsx or .html"),
    (["daily", "--region", "451200", "--month", "2026-10"], "the following arguments are required: --day"),
    (["annual", "--region", "451200", "--enterprise", "1", "--year", "2026"], "not allowed with argument --region"),
    (["annual", "--region", "451200", "--year", "2099"], "the period 2099 has not begun yet"),
])
def test_the_cli_refuses_a_mistake_with_one_line(hechi: City, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                 args: list[str], says: str) -> None:
    with pytest.raises(SystemExit) if "required" in says or "not allowed" in says else _no_exit():
        code = main(["report", *args, "--data", str(hechi.settings.data_dir)])
        assert code == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and err.startswith("forewarn: error: ")


class _no_exit:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def test_a_scheduled_run_writes_the_reports_due(hechi: City) -> None:
    tz = hechi.settings.tz
    folder = reports_dir(hechi.settings)
    before = int(datetime(2026, 11, 1, 0, 30, tzinfo=tz).timestamp() * 1000)
    after = int(datetime(2026, 11, 1, 1, 0, tzinfo=tz).timestamp() * 1000)
    made = make_due_reports(hechi.store.db, hechi.settings, before)
    assert {p.name for p in made} >= {"monthly-region-451200-2026-09.xlsx", "daily-region-451202-2026-10-30.html"}
    assert not (folder / "monthly-region-451200-2026-10.xlsx").exists()  # 01:00 has not come yet

    scheduler = ReportScheduler(hechi.settings, lambda: after)
    try:
        written = asyncio.run(scheduler.run_once())
    finally:
        scheduler.close()
    # yesterday's daily, last month's monthly, last year's annual: for the city and each district
    assert sorted(p.name for p in written) == sorted(
        f"{kind}-region-{code}-{period}.{fmt}" for kind, period in (("daily", "2026-10-31"), ("monthly", "2026-10"))
        for code in ("451200", "451202", "451221") for fmt in ("xlsx", "html"))  # annual 2025: made at 00:30
    _, rows = _table(_sheet((folder / "monthly-region-451200-2026-10.xlsx").read_bytes(), "超标情况"))
    assert rows["金城江区"][3] == 10
    assert asyncio.run(_again(hechi, after)) == []  # made once
    listed = list_reports(folder)
    assert listed[0].period == "2026-10-31" and {f.kind for f in listed} == {k.value for k in ReportKind}


async def _again(c: City, now: int) -> list[Path]:
    scheduler = ReportScheduler(c.settings, lambda: now)
    try:
        return await scheduler.run_once()
    finally:
        await asyncio.get_running_loop().run_in_executor(None, scheduler.close)
