"""The reports over HTTP: made on request (JSON for the statistics page, XLSX or printable
HTML to download) and the scheduled ones on file.

Thin callers of the report use case (``reports/build.py``) and the schedule's listing
(``reports/schedule.py``): a report is made on a reader thread (``web/reads.py``), never on
the event loop that answers devices, rendering included. A subject outside the user's scope
is a 404, as one that does not exist; a file on record is listed and served only to users
who may read its whole subject.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.model import ReportKind
from forewarn.reports.build import NotForRole, ReportError, ReportRequest, SubjectNotFound, assemble, plan_report
from forewarn.reports.html import CONTENT_SECURITY_POLICY
from forewarn.reports.period import PeriodError, parse_period
from forewarn.reports.render import MEDIA_TYPES, render
from forewarn.reports.schedule import ReportFile, reports_dir, reports_in_scope
from forewarn.reports.shapes import Report
from forewarn.times import iso
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read

__all__ = ["REPORT_ROUTES", "ReportFileView"]

_KINDS = ", ".join(k.value for k in ReportKind)
_MAX_ID = 2**63 - 1


class ReportFileView(msgspec.Struct, frozen=True, kw_only=True):
    """A scheduled report on file."""

    name: str
    #: daily, monthly or annual
    kind: str
    #: region or enterprise
    subject_type: str
    #: the region's code or the enterprise's id
    code: str
    subject_name: str
    period: str
    #: xlsx or html
    format: str
    size: int
    modified: str
    #: where to download it
    url: str


class ReportFiles(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ReportFileView]


def _headers(name: str, fmt: str) -> dict[str, str]:
    """A download for XLSX; HTML shown in the browser (to print), under a policy that lets
    nothing run and nothing load."""
    if fmt == "html":
        return {"Content-Disposition": f'inline; filename="{name}"', "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff"}
    return {"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"}


@get("/api/v1/reports/{kind:str}", tags=["reports"], summary="A daily, monthly or annual report", security=BEARER,
     responses={200: ResponseSpec(Report, description="the report as JSON (format=json); format=xlsx answers the "
                                                      "workbook, format=html the printable page")})
async def get_report(
    kind: FromPath[str], request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    period: Annotated[str, QueryParameter(description="2026-10-05 (daily), 2026-10 (monthly) or 2026 (annual), "
                                                      "local time")],
    region: Annotated[str | None, QueryParameter(description="a region's GB/T 2260 code: the region and each "
                                                             "district under it as rows")] = None,
    enterprise: Annotated[int | None, QueryParameter(description="an enterprise's id: it and its sites as rows",
                                                     ge=1, le=_MAX_ID)] = None,
    format_: Annotated[str, QueryParameter(name="format", description="json (default), xlsx or html")] = "json",
    lang: Annotated[str, QueryParameter(description="zh (default) or en: titles, headers and words")] = "zh",
) -> Response[bytes]:
    """The report of a region (the region first, then each region directly under it; a district
    without any: its sites) or of an enterprise (it first, then its sites) over a local day,
    month or year, in sections: summary against the assessment line, transmission and validity,
    networking and online, exceedances, alarm handling, treatment facilities, and the rankings
    (parts by effective transmission rate, enterprises or sites by exceedances). ``format=json``
    answers the sections with typed columns (what the statistics page draws); ``xlsx`` a
    workbook with a sheet per section, numbers as numbers; ``html`` a printable page with its
    charts drawn in. Name exactly one of ``region`` and ``enterprise``; one outside your scope
    is a 404. The figures of a period that has ended are kept five minutes (the language
    switched, a download after a look): a change to its data shows within that time."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    try:
        report_kind = ReportKind(kind)
    except ValueError:
        raise ApiProblem(404, f"no report kind {kind!r}: use {_KINDS}", title="Unknown report kind") from None
    if format_ not in ("json", "xlsx", "html"):
        raise ApiProblem(400, f"format={format_!r}: use json, xlsx or html")
    if lang not in ("zh", "en"):
        raise ApiProblem(400, f"lang={lang!r}: use zh or en")
    if (region is None) == (enterprise is None):
        raise ApiProblem(400, "name exactly one of region=CODE and enterprise=ID")
    settings = ctx.settings
    try:
        req = ReportRequest(parse_period(report_kind, period, settings.tz), region=region or None,
                            enterprise=enterprise)
    except (PeriodError, ReportError) as exc:
        raise ApiProblem(400, f"period={exc}" if isinstance(exc, PeriodError) else str(exc)) from None
    now = ctx.pipeline.now_ms()
    rules, catalogue = ctx.rules(), ctx.store.catalogue

    try:
        plan = await read(ctx, lambda db: plan_report(db, user.scope, req, now_ms=now, settings=settings, rules=rules,
                                                       catalogue=catalogue))
        scope = user.scope
        kept_as = (req.kind.value, req.period.label, req.region, req.enterprise, scope.role.value, scope.region_prefix,
                   scope.enterprise_id)
        closed = req.period.end_ms <= now
        rows = ctx.report_figures.get(kept_as) if closed else None
        if rows is None:
            # the figures' one pass over the subject's data, on a reader thread
            rows = await read(ctx, plan.read)
            if closed:
                ctx.report_figures.put(kept_as, rows)
    except SubjectNotFound as exc:
        raise ApiProblem(404, str(exc), title="Unknown subject") from None
    except NotForRole as exc:
        raise ApiProblem(403, str(exc)) from None
    except ReportError as exc:
        raise ApiProblem(400, str(exc)) from None

    def finish(_db: Any) -> tuple[Report, bytes | None]:
        report = assemble(plan, rows, now_ms=now, settings=settings, lang=lang)
        return report, None if format_ == "json" else render(report, format_, lang)  # type: ignore[arg-type]

    report, body = await read(ctx, finish)  # off the loop too: an XLSX takes a quarter of a second
    if body is None:
        return Response(msgspec.json.encode(report), media_type="application/json")
    name = f"{report.file_stem()}.{format_}"
    return Response(body, media_type=MEDIA_TYPES[format_], headers=_headers(name, format_))


def _view(f: ReportFile, ctx: ApiContext) -> ReportFileView:
    return ReportFileView(name=f.name, kind=f.kind, subject_type=f.subject_type, code=f.code,
                          subject_name=f.subject_name, period=f.period, format=f.format, size=f.size,
                          modified=iso(f.modified_ms, ctx.settings.tz), url=f"/api/v1/reports/files/{f.name}")


@get("/api/v1/reports/files", tags=["reports"], summary="The scheduled reports on file", security=BEARER)
async def report_files(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> ReportFiles:
    """The reports the schedule made (settings ``report_time``, ``report_regions``,
    ``report_enterprises``) into the data directory's ``reports/``, newest period first, each
    with its download URL: those of a region for whoever sees the whole region (its
    administrators and auditors, the city's), those of an enterprise for its users and whoever
    sees all its sites."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    folder = reports_dir(ctx.settings)
    files = await read(ctx, lambda db: reports_in_scope(db, user.scope, folder))
    return ReportFiles(items=[_view(f, ctx) for f in files])


@get("/api/v1/reports/files/{name:str}", tags=["reports"], summary="A scheduled report's file", security=BEARER)
async def report_file(name: FromPath[str], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """One file of ``GET /api/v1/reports/files``; a name not listed for you is a 404."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    folder = reports_dir(ctx.settings)

    def fetch(db: Any) -> tuple[ReportFile, bytes] | None:
        found = next((f for f in reports_in_scope(db, user.scope, folder) if f.name == name), None)
        return None if found is None else (found, (folder / found.name).read_bytes())

    got = await read(ctx, fetch)
    if got is None:
        raise ApiProblem(404, f"no report {name!r} for you (see GET /api/v1/reports/files)", title="Unknown report")
    found, body = got
    return Response(body, media_type=MEDIA_TYPES[found.format], headers=_headers(found.name, found.format))


REPORT_ROUTES = [report_files, report_file, get_report]
