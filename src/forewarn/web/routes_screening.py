"""The screening for doubtful data over HTTP: its kinds, its findings, a run on demand, and
confirming (into a data-audit mark) or dismissing a finding.

The use cases are :mod:`forewarn.stats.screening` (the CLI, the daily schedule and the
dashboard call them too). Reads and the checks run on the reader threads; writes on the writer
thread. Everything but the kinds needs ``audit_data`` (auditors and administrators, never the
enterprise whose data it is, which is not told what the regulator suspects). Everything is within the
user's scope: a finding outside it is 404, as one that does not exist; a run screens only the
sites in scope.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from forewarn.access.roles import Action
from forewarn.stats import screening
from forewarn.stats.screening import FindingView, KindView, RunResult, ScreeningError
from forewarn.store import screening as store
from forewarn.times import parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, next_page, table_response, wants_csv
from forewarn.web.writes import write

__all__ = ["SCREENING_ROUTES", "DecisionRequest", "FindingList", "RunRequest"]

_MAX_ID = 2**63 - 1
_BODY_BYTES = 16_000

Moment = Annotated[int | str, msgspec.Meta(description="ISO 8601 (the devices' zone without an offset) or epoch ms")]
Note = Annotated[str, msgspec.Meta(max_length=screening.MAX_NOTE)]


class RunRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The window to screen, ``[start, end)``; both left out: yesterday (local)."""

    start: Moment | None = None
    end: Moment | None = None


class FindingList(msgspec.Struct, kw_only=True):
    """One page of findings, as every list of the API answers."""

    items: list[FindingView]
    total: int
    limit: int
    offset: int
    next: str | None


#: the columns of the CSV export (the evidence as JSON in its cell)
_COLUMNS = ("id", "kind", "kind_zh", "state", "site_id", "site", "enterprise", "region_code", "mn", "point", "start",
            "end", "summary_zh", "summary_en", "decided_by", "decided", "decision_note", "audit_mark_id", "evidence")


class DecisionRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Why (required to dismiss; added to the audit mark's note when confirming)."""

    note: Note = ""


def _problem(exc: ScreeningError) -> ApiProblem:
    return ApiProblem(exc.status, exc.detail)


def _moment(value: int | str, tz: ZoneInfo, name: str) -> int:
    try:
        return parse_moment(str(value), tz)
    except ValueError as exc:
        raise ApiProblem(400, f"{name}={exc}") from None


def _check_id(finding_id: int) -> int:
    if not 0 < finding_id <= _MAX_ID:
        raise ApiProblem(404, f"no finding {finding_id} in your scope")
    return finding_id


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@get("/api/v1/screening/kinds", tags=["screening"], summary="The kinds of doubtful data screened for",
     security=BEARER)
async def screening_kinds(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> list[KindView]:
    """Each registered check: its kind and its titles in Chinese and English."""
    require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    return screening.kinds()


@get("/api/v1/screening/findings", tags=["screening"], summary="Findings of the screening, newest first",
     security=BEARER)
async def list_findings(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    state_: Annotated[str | None, QueryParameter(name="state",
                                                 description="open, confirmed, dismissed (comma-separated)")] = None,
    kind: Annotated[str | None, QueryParameter(description="kinds (comma-separated; see /screening/kinds)")] = None,
    site: Annotated[int | None, QueryParameter(description="a site id")] = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="findings ending after (ISO 8601 or ms)")]
    = None,
    to: Annotated[str | None, QueryParameter(description="findings starting before (ISO 8601 or epoch ms)")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[FindingList]:
    """The findings in your scope, each with its evidence (facts, the evidence window's series,
    what it is compared with) and, once judged, who judged it, when, why and its audit mark;
    as a page or CSV (``format=csv``, the evidence as JSON in its column).
    Needs audit_data: an enterprise is not told what the regulator suspects of its data."""
    user = require_user(request, ctx, Action.AUDIT_DATA, doing="see the screening's findings")
    reject_unknown_query(request)
    tz = ctx.settings.tz
    page = check_page(limit, offset)
    csv = wants_csv(request, format_)
    from_ms = _moment(from_, tz, "from") if from_ else None
    to_ms = _moment(to, tz, "to") if to else None
    states, kinds = _csv(state_), _csv(kind)
    try:
        found = await read(ctx, lambda db: screening.list_findings(
            db, user.scope, tz, states=states, kinds_=kinds, site_id=site, from_ms=from_ms, to_ms=to_ms,
            limit=page[0], offset=page[1]))
    except ScreeningError as exc:
        raise _problem(exc) from None
    if csv:
        return table_response(request, [msgspec.to_builtins(f) for f in found.findings], found.total, page, "csv",
                              columns=_COLUMNS, name="screening-findings")
    return Response(FindingList(items=found.findings, total=found.total, limit=page[0], offset=page[1],
                                next=next_page(request, page, len(found.findings), found.total)))


@get("/api/v1/screening/findings/{finding_id:int}", tags=["screening"], summary="One finding", security=BEARER)
async def show_finding(finding_id: FromPath[int], request: Request[Any, Any, Any],
                       ctx: NamedDependency[ApiContext]) -> FindingView:
    """The finding with its evidence and, once judged, who judged it, when, why and its audit
    mark. Needs audit_data; outside your scope: 404."""
    user = require_user(request, ctx, Action.AUDIT_DATA, doing="see the screening's findings")
    reject_unknown_query(request)
    key, tz = _check_id(finding_id), ctx.settings.tz
    row = await read(ctx, lambda db: store.finding(db, key, user.scope))
    if row is None:
        raise ApiProblem(404, f"no finding {finding_id} in your scope")
    return screening.finding_view(row, tz)


@post("/api/v1/screening/runs", tags=["screening"], summary="Screen a window now", security=BEARER,
      status_code=200, request_max_body_size=_BODY_BYTES)
async def run_screening(data: JSONBody[RunRequest], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> RunResult:
    """Run every check over ``[start, end)`` (default: yesterday; at most 40 days) for the sites
    in your scope (a district's monitors are compared with their neighbours in the district), and
    keep what it finds (a finding that continues an earlier one extends it;
    one already judged stays judged). Needs audit_data. The checks run on a reader thread."""
    user = require_user(request, ctx, Action.AUDIT_DATA)
    reject_unknown_query(request)
    tz = ctx.settings.tz
    now = int(ctx.pipeline.now_ms())
    if data.start is None and data.end is None:
        start, end = screening.day_window(now, tz)
    elif data.start is None or data.end is None:
        raise ApiProblem(400, 'give both "start" and "end", or neither (yesterday)')
    else:
        start, end = _moment(data.start, tz, "start"), _moment(data.end, tz, "end")

    async def on_reader(query: Any) -> Any:
        return await read(ctx, query)

    async def on_writer(work: Any) -> Any:
        return await write(ctx, work)

    try:
        return await screening.run(on_reader, on_writer, scope=user.scope, from_ms=start, to_ms=end,
                                   actor=user.name, data_dir=ctx.settings.data_dir, tz=tz, now_ms=now)
    except ScreeningError as exc:
        raise _problem(exc) from None


async def _decide(ctx: ApiContext, request: Request[Any, Any, Any], finding_id: int, note: str,
                  confirm: bool) -> FindingView:
    user = require_user(request, ctx, Action.AUDIT_DATA)
    reject_unknown_query(request)
    key, tz, now = _check_id(finding_id), ctx.settings.tz, int(ctx.pipeline.now_ms())
    use_case = screening.confirm if confirm else screening.dismiss
    try:
        return await write(ctx, lambda db: use_case(db, key, actor=user.name, scope=user.scope, note=note,
                                                    origin="api", now_ms=now, tz=tz))
    except ScreeningError as exc:
        raise _problem(exc) from None


@post("/api/v1/screening/findings/{finding_id:int}/confirm", tags=["screening"],
      summary="Confirm a finding: mark its data invalid", security=BEARER, status_code=200,
      request_max_body_size=_BODY_BYTES)
async def confirm_finding(finding_id: FromPath[int], data: JSONBody[DecisionRequest],
                          request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> FindingView:
    """The finding's window of its point (or device) is marked invalid in data audit (reason:
    fault or suspected tampering, as its kind says), in the same transaction as the judgement;
    the answer links the mark. Needs audit_data; 409 when already judged."""
    return await _decide(ctx, request, finding_id, data.note, True)


@post("/api/v1/screening/findings/{finding_id:int}/dismiss", tags=["screening"],
      summary="Dismiss a finding as sound data", security=BEARER, status_code=200,
      request_max_body_size=_BODY_BYTES)
async def dismiss_finding(finding_id: FromPath[int], data: JSONBody[DecisionRequest],
                          request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> FindingView:
    """The data stays valid; who dismissed it, when and why (``note``, required) are kept and
    audited. Needs audit_data; 409 when already judged."""
    return await _decide(ctx, request, finding_id, data.note, False)


#: every handler of this module, for the app's route list
SCREENING_ROUTES = [screening_kinds, list_findings, show_finding, run_screening, confirm_finding, dismiss_finding]
