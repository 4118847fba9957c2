"""The report use case, once: a subject (a region or an enterprise) and a period in, a
:class:`~forewarn.reports.shapes.Report` out. The CLI (``forewarn report``), the API
(``/api/v1/reports/...``), the scheduler and the statistics page all go through it: in one
call (:func:`build_report`), or, where the figures are read on a reader thread (the API), as
:func:`plan_report` (the subject, checked against the scope, and its figures' read), the read,
and :func:`assemble`.

The numbers are the figures' (``forewarn.stats.figures``), never computed again here; this
module only decides which rows a report has and lays them out in sections:

- a **region** report has the region itself as its first row, then each region directly
  under it (a city's districts), or, for a district with none under it, each of its sites;
- an **enterprise** report has the enterprise first, then each of its sites.

Each section (summary against the assessment line; transmission and validity; networking
and online; exceedances; alarm handling; facility run rate; the two rankings) is a sheet of
the XLSX and a table with a chart on the page. Everything is read with the user's
:class:`Scope`: a subject outside it is :class:`SubjectNotFound`, and rows outside it are
not there. Every row of a report comes from ONE pass of the figures over the subject's data
(``figures_by``: the subject's own row, its parts and its enterprises added up from the same
sites' counts). Run it on a reader or worker thread (a month of a city's figures takes half a
second of CPU).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from forewarn.access.roles import Role
from forewarn.access.scope import Scope, region_prefix
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.model import ReportKind
from forewarn.reports.period import ReportPeriod
from forewarn.reports.shapes import Cell, Chart, Column, ColumnKind, Report, ReportSubject, Section, Text
from forewarn.sites.view import RulesInForce
from forewarn.stats.figures import (
    Entity,
    FigureRow,
    Grouping,
    RankedRow,
    figures_by,
    ranking_districts,
    ranking_enterprises,
)
from forewarn.store.report_reads import enterprise_site_ids, enterprise_subject, region_subject
from forewarn.times import iso

__all__ = ["NotForRole", "ReportError", "ReportPlan", "ReportRequest", "SubjectNotFound", "assemble", "build_report",
           "plan_report"]


class ReportError(ValueError):
    """A report that cannot be made as asked (the message says why, for the person asking)."""


class SubjectNotFound(ReportError):
    """No such region or enterprise in the user's scope (one outside it reads the same)."""


class NotForRole(ReportError):
    """A report the user's role does not read: a region's, for an enterprise's user (it would
    show only the enterprise's own sites under the region's name)."""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """Which report: exactly one of ``region`` (a GB/T 2260 code) and ``enterprise`` (an id)."""

    period: ReportPeriod
    region: str | None = None
    enterprise: int | None = None

    def __post_init__(self) -> None:
        if (self.region is None) == (self.enterprise is None):
            raise ReportError("name either a region (--region CODE) or an enterprise (--enterprise ID), not both")

    @property
    def kind(self) -> ReportKind:
        return self.period.kind


_KIND_TITLE = {ReportKind.DAILY: Text("日报", "daily report"), ReportKind.MONTHLY: Text("月报", "monthly report"),
               ReportKind.ANNUAL: Text("年报", "annual report")}
_T = Text


def _col(key: str, zh: str, en: str, kind: ColumnKind, target: float | None = None) -> Column:
    return Column(key=key, title=Text(zh, en), kind=kind, target=target)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


#: each section's columns after the name and code, with how a row fills them
_Getter = Callable[[FigureRow], Cell]


def _sections_spec(line: float) -> list[tuple[str, Text, list[tuple[Column, _Getter]], Chart | None]]:
    return [
        ("transmission", _T("数据传输有效率", "Transmission and validity"), [
            (_col("points", "监测点位数", "Points", "int"), lambda r: r.points),
            (_col("records_due", "应传输条数", "Records due", "int"), lambda r: r.records_due),
            (_col("records_received", "实传输条数", "Records received", "int"), lambda r: r.records_received),
            (_col("records_valid", "有效条数", "Records valid", "int"), lambda r: r.records_valid),
            (_col("transmission_rate", "数据传输率", "Transmission rate", "rate", line), lambda r: r.transmission_rate),
            (_col("validity_rate", "数据有效率", "Validity rate", "rate", line), lambda r: r.validity_rate),
            (_col("effective_rate", "有效传输率", "Effective transmission rate", "rate", line),
             lambda r: r.effective_rate),
        ], Chart(label="name", values=["transmission_rate", "validity_rate", "effective_rate"], target=line, skip=1)),
        ("online", _T("联网与在线", "Networking and online"), [
            (_col("sites", "站点数", "Sites", "int"), lambda r: r.sites),
            (_col("sites_due", "应联网站点", "Sites due", "int"), lambda r: r.sites_due),
            (_col("sites_connected", "已联网站点", "Sites connected", "int"), lambda r: r.sites_connected),
            (_col("networking_rate", "联网率", "Networking rate", "rate", line), lambda r: r.networking_rate),
            (_col("devices_due", "应在线设备", "Devices due", "int"), lambda r: r.devices_due),
            (_col("devices_online", "在线设备", "Devices online", "int"), lambda r: r.devices_online),
            (_col("online_rate", "设备在线率", "Online rate", "rate", line), lambda r: r.online_rate),
            (_col("online_time_rate", "时间在线率", "Online rate by time", "rate", line), lambda r: r.online_time_rate),
        ], Chart(label="name", values=["networking_rate", "online_rate", "online_time_rate"], target=line, skip=1)),
        ("exceedances", _T("超标情况", "Exceedances"), [
            (_col("values_valid", "有效数据数", "Valid values", "int"), lambda r: r.values_valid),
            (_col("exceedances", "超标次数", "Exceedances", "int"), lambda r: r.exceedances),
            (_col("exceedance_min", "超标时长(分钟)", "Duration (min)", "minutes"), lambda r: _minutes(r.exceedance_s)),
            (_col("exceedance_rate", "超标率", "Exceedance rate", "rate"), lambda r: r.exceedance_rate),
            (_col("max_multiple", "最大超标倍数", "Max multiple", "number"), lambda r: r.max_multiple),
        ], Chart(label="name", values=["exceedances"], skip=1)),
        ("alarms", _T("告警处置", "Alarm handling"), [
            (_col("alarms", "告警数", "Alarms", "int"), lambda r: r.alarms),
            (_col("alarms_acknowledged", "已确认", "Acknowledged", "int"), lambda r: r.alarms_acknowledged),
            (_col("alarms_closed", "已闭环", "Closed", "int"), lambda r: r.alarms_closed),
            (_col("alarms_open", "未闭环", "Not closed", "int"), lambda r: r.alarms_open),
            (_col("alarms_overdue", "超期", "Overdue", "int"), lambda r: r.alarms_overdue),
            (_col("ack_median_min", "确认用时中位数(分钟)", "Time to acknowledge, median (min)", "minutes"),
             lambda r: _minutes(r.ack_median_s)),
            (_col("ack_mean_min", "确认用时平均(分钟)", "Time to acknowledge, mean (min)", "minutes"),
             lambda r: _minutes(r.ack_mean_s)),
            (_col("close_median_min", "闭环用时中位数(分钟)", "Time to close, median (min)", "minutes"),
             lambda r: _minutes(r.close_median_s)),
            (_col("close_mean_min", "闭环用时平均(分钟)", "Time to close, mean (min)", "minutes"),
             lambda r: _minutes(r.close_mean_s)),
        ], Chart(label="name", values=["alarms", "alarms_open", "alarms_overdue"], skip=1)),
        ("facilities", _T("治污设施运行", "Treatment facilities"), [
            (_col("production_on_h", "生产运行(小时)", "Production running (h)", "hours"),
             lambda r: _hours(r.production_on_s)),
            (_col("treatment_with_production_h", "治污设施同步运行(小时)", "Treatment running with it (h)", "hours"),
             lambda r: _hours(r.treatment_with_production_s)),
            (_col("treatment_run_rate", "治污设施运行率", "Treatment run rate", "rate", line),
             lambda r: r.treatment_run_rate),
            (_col("fan_on_h", "风机运行(小时)", "Fan running (h)", "hours"), lambda r: _hours(r.fan_on_s)),
            (_col("purifier_with_fan_h", "净化器同步运行(小时)", "Purifier running with it (h)", "hours"),
             lambda r: _hours(r.purifier_with_fan_s)),
            (_col("purifier_run_rate", "净化器运行率", "Purifier run rate", "rate", line),
             lambda r: r.purifier_run_rate),
        ], Chart(label="name", values=["treatment_run_rate", "purifier_run_rate"], target=line, skip=1)),
    ]


#: the summary's indicators: key, words, whether the assessment line applies
_KPIS: list[tuple[str, Text, bool]] = [
    ("transmission_rate", _T("数据传输率", "Transmission rate"), True),
    ("validity_rate", _T("数据有效率", "Validity rate"), True),
    ("effective_rate", _T("有效传输率", "Effective transmission rate"), True),
    ("networking_rate", _T("联网率", "Networking rate"), True),
    ("online_rate", _T("设备在线率", "Online rate"), True),
    ("online_time_rate", _T("时间在线率", "Online rate by time"), True),
    ("treatment_run_rate", _T("治污设施运行率", "Treatment run rate"), True),
    ("purifier_run_rate", _T("净化器运行率", "Purifier run rate"), True),
    ("exceedance_rate", _T("超标率", "Exceedance rate"), False),
]
_PASS = {True: _T("达标", "met"), False: _T("未达标", "not met"), None: _T("无数据", "no data")}


FigureRead = Callable[[sqlite3.Connection], dict[str, list[FigureRow]]]


@dataclass(frozen=True)
class ReportPlan:
    """What a report reads, decided from the subject: its figures' one read (the API runs it on
    a reader thread), and how its rows make the report (:func:`assemble`)."""

    request: ReportRequest
    subject: ReportSubject
    #: the rows by key: total (the subject's own row), parts (districts or sites), enterprises
    #: (region reports), all from one pass over the subject's data
    read: FigureRead
    #: region reports: the subject's code (its own row among the parts is left out); enterprise
    #: reports read by a district: the ids of the enterprise's sites in it
    code: str | None = None
    own_sites: frozenset[int] | None = None


def build_report(db: sqlite3.Connection, scope: Scope, request: ReportRequest, *, now_ms: int,
                 settings: Settings, lang: str = "zh", rules: RulesInForce = None,
                 catalogue: Catalogue | None = None) -> Report:
    """The report ``request`` names, as ``scope`` sees it (``lang``: the words in its cells;
    ``rules``, ``catalogue``: the rules in force, for facility running times not kept yet):
    :func:`plan_report`, its read, :func:`assemble`."""
    plan = plan_report(db, scope, request, now_ms=now_ms, settings=settings, rules=rules, catalogue=catalogue)
    return assemble(plan, plan.read(db), now_ms=now_ms, settings=settings, lang=lang)


def plan_report(db: sqlite3.Connection, scope: Scope, request: ReportRequest, *, now_ms: int,
                settings: Settings, rules: RulesInForce = None, catalogue: Catalogue | None = None) -> ReportPlan:
    """Who the subject is (in ``scope``, else :class:`SubjectNotFound`) and the figures to read."""
    period = request.period
    if period.start_ms >= now_ms:
        raise ReportError(f"the period {period.label} has not begun yet")
    window: _Window = {"start_ms": period.start_ms, "end_ms": period.end_ms, "period": period.figures_period,
                       "now_ms": now_ms, "settings": settings, "rules": rules, "catalogue": catalogue}
    if request.region is not None:
        if scope.reach() not in ("all", "region"):
            raise NotForRole("an enterprise's user reads its enterprise's reports (enterprise=ID), not a region's")
        return _region_plan(db, scope, request, window)
    assert request.enterprise is not None
    return _enterprise_plan(db, scope, request, window)


def assemble(plan: ReportPlan, results: dict[str, list[FigureRow]], *, now_ms: int, settings: Settings,
             lang: str = "zh") -> Report:
    """The report from its read's rows (``results``: what ``plan.read`` answered)."""
    period, subject = plan.request.period, plan.subject
    total = next(iter(results["total"]), None)
    if total is not None:
        total = msgspec.structs.replace(total, entity=Entity(
            kind=subject.type, id=None if subject.type == "region" else int(subject.code),
            code=total.entity.code if subject.type == "enterprise" else subject.code, name=subject.name))
    parts = results["parts"]
    if plan.code is not None:
        parts = [r for r in parts if not (r.entity.kind == "region" and r.entity.code == plan.code)]
    if plan.own_sites is not None:
        parts = [r for r in parts if r.entity.id in plan.own_sites]
    if subject.type == "region":
        part_ranking = _T("区县有效传输率排名", "Districts by effective transmission rate")
        if parts and parts[0].entity.kind == "site":
            part_ranking = _T("站点有效传输率排名", "Sites by effective transmission rate")
        rankings = [("rank_parts", part_ranking, ranking_districts(parts), "effective_rate"),
                    ("rank_enterprises", _T("企业超标次数排名", "Enterprises by exceedances"),
                     ranking_enterprises(results["enterprises"]), "exceedances")]
    else:
        rankings = [("rank_parts", _T("站点有效传输率排名", "Sites by effective transmission rate"),
                     ranking_districts(parts), "effective_rate"),
                    ("rank_exceedances", _T("站点超标次数排名", "Sites by exceedances"),
                     ranking_enterprises(parts), "exceedances")]
    line = total.assessment_line if total is not None else (parts[0].assessment_line if parts else 0.9)
    rows = ([total] if total is not None else []) + parts
    skip = 1 if total is not None else 0
    sections = [_summary(subject, total, line, lang)]
    for key, title, spec, chart in _sections_spec(line):
        columns = [_col("name", "名称", "Name", "text"), _col("code", "区划代码", "Region code", "text")]
        columns += [c for c, _ in spec]
        cells: list[list[Cell]] = [[r.entity.name, r.entity.code, *(get(r) for _, get in spec)] for r in rows]
        if chart is not None:
            chart = Chart(label=chart.label, values=chart.values, target=chart.target, skip=skip)
        sections.append(Section(key=key, title=title, columns=columns, rows=cells, chart=chart))
    for key, title, ranked, figure in rankings:
        sections.append(_ranking(key, title, ranked, figure, line))
    tz = settings.tz
    generated = datetime.fromtimestamp(now_ms / 1000, tz).isoformat(timespec="seconds")
    name = subject.name
    return Report(
        kind=period.kind.value, subject=subject, period=period.label,
        start=iso(period.start_ms, tz), end=iso(period.end_ms, tz), generated=generated,
        title=Text(f"{name}{period.label}{_KIND_TITLE[period.kind].zh}",
                   f"{name} {_KIND_TITLE[period.kind].en} {period.label}"),
        sections=sections,
    )


_Window = dict[str, object]


def _figures(scope: Scope, region: str | None, window: _Window, groupings: dict[str, Grouping],
             keep: dict[str, Callable[[FigureRow], bool]] | None = None) -> FigureRead:
    """One read of the figures in several groupings (``groupings``: a report's key -> the
    grouping its rows are), each key's rows only those its ``keep`` accepts."""

    def read(db: sqlite3.Connection) -> dict[str, list[FigureRow]]:
        rows = figures_by(db, scope, bys=tuple(dict.fromkeys(groupings.values())), region=region,
                          **window)  # type: ignore[arg-type]
        out = {key: rows[by] for key, by in groupings.items()}
        for key, accept in (keep or {}).items():
            out[key] = [r for r in out[key] if accept(r)]
        return out

    return read


def _up(code: str, parent: str | None) -> str | None:
    """The region one level above ``code``: the registered parent, else the one its GB/T 2260
    code says (451202 -> 451200, 451200 -> 450000); None for a province."""
    if parent:
        return parent
    prefix = region_prefix(code)
    if not prefix.isdigit() or len(prefix) <= 2:
        return None
    up = prefix[:-2] if len(prefix) <= 6 else prefix[:-3]
    return up.ljust(6 if len(up) <= 6 else 9, "0")


def _region_plan(db: sqlite3.Connection, scope: Scope, request: ReportRequest, window: _Window) -> ReportPlan:
    code = request.region
    assert code is not None
    region = region_subject(db, scope, code)
    if region is None:
        raise SubjectNotFound(f"no region {code} in your scope")
    subject = ReportSubject(type="region", code=region.code, name=region.name)
    # the region's own row is every one of its sites added up (the user sees the whole region:
    # region_subject), in the same pass as its parts and enterprises; a province has none (as
    # before: no region above it whose rows it would be among)
    groupings: dict[str, Grouping] = {"parts": "region" if region.children else "site", "enterprises": "enterprise"}
    if _up(region.code, region.parent_code) is not None:
        groupings["total"] = "all"
    read = _figures(scope, code, window, groupings)

    def with_total(db: sqlite3.Connection) -> dict[str, list[FigureRow]]:
        return {"total": [], **read(db)}

    return ReportPlan(request, subject, with_total, code=region.code)


def _enterprise_plan(db: sqlite3.Connection, scope: Scope, request: ReportRequest, window: _Window) -> ReportPlan:
    enterprise_id = request.enterprise
    assert enterprise_id is not None
    enterprise = enterprise_subject(db, scope, enterprise_id)
    if enterprise is None:
        raise SubjectNotFound(f"no enterprise {enterprise_id} in your scope")
    subject = ReportSubject(type="enterprise", code=str(enterprise.id), name=enterprise.name)
    # a user who sees all of the enterprise reads it through the enterprise's own scope (its
    # sites only, not the whole city's); a district's administrator through its own (the
    # enterprise's sites in the district), with the other enterprises' sites left out
    whole = scope.reach() == "all" or (scope.reach() == "enterprise" and scope.enterprise_id == enterprise_id)
    reading = Scope(Role.ENTERPRISE_USER, enterprise_id=enterprise_id) if whole else scope
    read = _figures(reading, None, window, {"total": "enterprise", "parts": "site"},
                    {"total": lambda r: r.entity.id == enterprise_id})
    own = None if whole else frozenset(enterprise_site_ids(db, scope, enterprise_id))
    return ReportPlan(request, subject, read, own_sites=own)


def _summary(subject: ReportSubject, total: FigureRow | None, line: float, lang: str) -> Section:
    columns = [_col("indicator", "指标", "Indicator", "text"), _col("value", "本期", "This period", "rate"),
               _col("target", "考核线", "Target", "rate"), _col("assessed", "是否达标", "Assessed", "text")]
    rows: list[list[Cell]] = []
    for key, words, assessed in _KPIS:
        value = getattr(total, key) if total is not None else None
        verdict = None if value is None else value >= line
        rows.append([words.pick(lang), value, line if assessed else None,
                     _PASS[verdict].pick(lang) if assessed else "—"])
    columns[1] = Column(key="value", title=Text("本期", "This period"), kind="rate", target=line)
    return Section(key="summary", title=_T("汇总", "Summary"), columns=columns, rows=rows,
                   note=_T(f"{subject.name}：各项比率与考核线 {line * 100:.0f}% 比较；超标率不设考核线。",
                           f"{subject.name}: each rate against the {line * 100:.0f} % line; the exceedance rate "
                           "has no line."))


def _ranking(key: str, title: Text, ranked: list[RankedRow], figure: str, line: float) -> Section:
    kind: ColumnKind = "rate" if figure == "effective_rate" else "int"
    value = _col(figure, "有效传输率" if kind == "rate" else "超标次数",
                 "Effective transmission rate" if kind == "rate" else "Exceedances", kind,
                 line if kind == "rate" else None)
    columns = [_col("rank", "排名", "Rank", "int"), _col("name", "名称", "Name", "text"),
               _col("code", "区划代码", "Region code", "text"), value]
    rows: list[list[Cell]] = [[r.rank, r.row.entity.name, r.row.entity.code,
                               None if r.value is None else (r.value if kind == "rate" else int(r.value))]
                              for r in ranked]
    return Section(key=key, title=title, columns=columns, rows=rows,
                   chart=Chart(label="name", values=[figure], target=line if kind == "rate" else None))
