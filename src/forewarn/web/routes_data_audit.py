"""Data audit over HTTP: mark a range of a point, device or site invalid (or valid again), list
marks, end an open-ended one, revoke one; a point's effective invalid ranges for its chart.

The use cases live in :mod:`forewarn.stats.audit` (the CLI and the dashboard call them too): a
route parses the typed body, runs the use case on the writer thread (where the scope is checked
again, in the change's own transaction) and answers the mark. Reads run on the reader threads.

Who may: reading needs ``read`` (within one's scope, as everything); marking, ending and revoking
need ``audit_data`` (auditors and administrators; never the enterprise whose data it is). A
point, device, site or mark outside the scope is 404, as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from forewarn.access.roles import Action
from forewarn.access.users import User
from forewarn.model import AuditReason, MarkTarget
from forewarn.stats import audit
from forewarn.stats.audit import AuditError, DataMark, mark_view
from forewarn.store import audit_marks
from forewarn.store.audit_marks import MarkFilter
from forewarn.times import iso, parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import check_choice, reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, next_page, table_response, wants_csv
from forewarn.web.writes import write

__all__ = ["DATA_AUDIT_ROUTES", "EndRequest", "InvalidRanges", "MarkPage", "MarkRequest", "RevokeRequest"]

_MAX_ID = 2**63 - 1
_BODY_BYTES = 64_000
#: a point's chart asks at most this much at once (a year and a little)
_MAX_WINDOW_MS = 400 * 86_400_000
_COLUMNS = ("id", "target", "target_id", "site_id", "site", "start", "end", "valid", "reason", "note", "actor",
            "created", "revoked", "revoked_by", "revoke_note")

Moment = Annotated[int | str, msgspec.Meta(description="ISO 8601 (the devices' zone without an offset) or epoch ms")]
Note = Annotated[str, msgspec.Meta(max_length=audit.MAX_NOTE)]


class MarkRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A mark to make: ``[start, end)`` of one point, device or site; ``end`` left out: open-ended."""

    target: MarkTarget
    target_id: int
    start: Moment
    end: Moment | None = None
    #: false (the default): mark the range invalid; true: valid again
    valid: bool = False
    reason: AuditReason
    #: why, in words (required with reason manual)
    note: Note = ""


class RevokeRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Why the mark is taken back (required)."""

    note: Note


class EndRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """When an open-ended mark ends (default now), and why."""

    end: Moment | None = None
    note: Note = ""


class MarkPage(msgspec.Struct, kw_only=True):
    items: list[DataMark]
    total: int
    limit: int
    offset: int
    next: str | None


class InvalidSpan(msgspec.Struct, kw_only=True):
    start: str
    end: str
    start_ms: int
    end_ms: int


class InvalidRanges(msgspec.Struct, kw_only=True):
    """Where a point's data counts as invalid within the window asked, after every mark in force."""

    point_id: int
    site_id: int
    site: str
    from_ms: int
    to_ms: int
    ranges: list[InvalidSpan]


def _problem(exc: AuditError) -> ApiProblem:
    detail = exc.detail + (" (see GET /api/v1/data-marks)" if exc.title == "Unknown mark" else "")
    return ApiProblem(exc.status, detail, title=exc.title)


def _moment(value: int | str, tz: ZoneInfo, name: str) -> int:
    try:
        return parse_moment(str(value), tz)
    except ValueError as exc:
        raise ApiProblem(400, f"{name}={exc}") from None


def _check_id(mark_id: int) -> int:
    if not 0 < mark_id <= _MAX_ID:
        raise ApiProblem(404, f"no data mark {mark_id} in your scope (see GET /api/v1/data-marks)",
                         title="Unknown mark")
    return mark_id


async def _shown(ctx: ApiContext, user: User, mark_id: int) -> DataMark:
    row = await read(ctx, lambda db: audit_marks.mark_in_scope(db, user.scope, mark_id))
    if row is None:  # revoked or changed by nobody in between: it was just written in scope
        raise ApiProblem(404, f"no data mark {mark_id} in your scope", title="Unknown mark")
    return mark_view(row, ctx.settings.tz)


@get("/api/v1/data-marks", tags=["data audit"], summary="Data-audit marks, newest first", security=BEARER)
async def list_marks(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    site: Annotated[int | None, QueryParameter(description="a site id: marks on it, its devices and points")] = None,
    device: Annotated[int | None, QueryParameter(description="a device id: marks that cover it")] = None,
    point: Annotated[int | None, QueryParameter(description="a point id: marks that cover it (its own, its device's, "
                                                            "its site's)")] = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="marks ending after (ISO 8601 or epoch ms)")]
    = None,
    to: Annotated[str | None, QueryParameter(description="marks starting before (ISO 8601 or epoch ms)")] = None,
    active: Annotated[bool | None, QueryParameter(description="true: in force; false: revoked")] = None,
    reason: Annotated[str | None, QueryParameter(description=f"one of {', '.join(AuditReason)}",
                                                 schema_extra={"enum": list(AuditReason)})] = None,
    valid: Annotated[bool | None, QueryParameter(description="false: invalid marks; true: valid-again marks")]
    = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[MarkPage]:
    """The data-audit marks in your scope, newest first, revoked ones included (``revoked``,
    with who and why) unless ``active`` says otherwise; as a page or CSV."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    tz = ctx.settings.tz
    page = check_page(limit, offset)
    csv = wants_csv(request, format_)
    flt = MarkFilter(site_id=site, device_id=device, point_id=point,
                     from_ms=_moment(from_, tz, "from") if from_ is not None else None,
                     to_ms=_moment(to, tz, "to") if to is not None else None, active=active,
                     reason=check_choice("reason", reason, tuple(AuditReason)), valid=valid)

    def query(db: Any) -> tuple[list[DataMark], int]:
        rows = audit_marks.page_marks(db, user.scope, flt, *page)
        return [mark_view(r, tz) for r in rows], audit_marks.count_marks(db, user.scope, flt)

    items, total = await read(ctx, query)
    if csv:
        return table_response(request, [msgspec.to_builtins(i) for i in items], total, page, "csv",
                              columns=_COLUMNS, name="data-marks")
    return Response(MarkPage(items=items, total=total, limit=page[0], offset=page[1],
                             next=next_page(request, page, len(items), total)))


@get("/api/v1/data-marks/{mark_id:int}", tags=["data audit"], summary="One data-audit mark", security=BEARER)
async def show_mark(mark_id: FromPath[int], request: Request[Any, Any, Any],
                    ctx: NamedDependency[ApiContext]) -> DataMark:
    """The mark with its range, reason, note, who made it, and who revoked it and why if so."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    return await _shown(ctx, user, _check_id(mark_id))


@post("/api/v1/data-marks", tags=["data audit"], summary="Mark data invalid, or valid again", security=BEARER,
      status_code=201, request_max_body_size=_BODY_BYTES)
async def create_mark(data: JSONBody[MarkRequest], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> DataMark:
    """Mark ``[start, end)`` of a point, device or site (all their points) invalid, or valid
    again (``"valid": true``), with a reason and a note. The readings are not changed: invalid
    data is left out of exceedance judgements, aggregates and figures, which are recomputed for
    the periods touched; a later mark over part of a range decides that part. ``end`` left out:
    open-ended, until ended (``POST .../end``); a live reading it covers raises no new alarm.
    Needs audit_data; audited; 404 for a target outside your scope."""
    user = require_user(request, ctx, Action.AUDIT_DATA)
    tz = ctx.settings.tz
    start = _moment(data.start, tz, "start")
    end = _moment(data.end, tz, "end") if data.end is not None else None
    now = ctx.pipeline.now_ms()

    def work(db: Any) -> int:
        return audit.mark(db, actor=user.name, scope=user.scope, target=data.target, target_id=data.target_id,
                          start_ms=start, end_ms=end, valid=data.valid, reason=data.reason, note=data.note,
                          origin="api", now_ms=now)

    if not 0 < data.target_id <= _MAX_ID:
        raise ApiProblem(404, f"no {data.target} {data.target_id} in your scope")
    try:
        mark_id = await write(ctx, work)
    except AuditError as exc:
        raise _problem(exc) from None
    return await _shown(ctx, user, mark_id)


@post("/api/v1/data-marks/{mark_id:int}/revoke", tags=["data audit"], summary="Revoke a data-audit mark",
      security=BEARER, status_code=200, request_max_body_size=_BODY_BYTES)
async def revoke_mark(mark_id: FromPath[int], data: JSONBody[RevokeRequest], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> DataMark:
    """Take a mark back (made by mistake): what the marks before it said holds again, and the
    periods it covered are recomputed. Its record stays with who revoked it and why. Needs
    audit_data; audited; 409 if revoked already."""
    user = require_user(request, ctx, Action.AUDIT_DATA)
    _check_id(mark_id)
    now = ctx.pipeline.now_ms()
    try:
        await write(ctx, lambda db: audit.revoke(db, actor=user.name, scope=user.scope, mark_id=mark_id,
                                                 note=data.note, origin="api", now_ms=now))
    except AuditError as exc:
        raise _problem(exc) from None
    return await _shown(ctx, user, mark_id)


@post("/api/v1/data-marks/{mark_id:int}/end", tags=["data audit"], summary="End an open-ended mark",
      security=BEARER, status_code=200, request_max_body_size=_BODY_BYTES)
async def end_mark(mark_id: FromPath[int], data: JSONBody[EndRequest], request: Request[Any, Any, Any],
                   ctx: NamedDependency[ApiContext]) -> DataMark:
    """The maintenance or calibration is over: the open-ended mark ends at ``end`` (default now)
    and data from then on counts again. Needs audit_data; audited; 409 for a mark that has its
    end already."""
    user = require_user(request, ctx, Action.AUDIT_DATA)
    _check_id(mark_id)
    now = ctx.pipeline.now_ms()
    end = _moment(data.end, ctx.settings.tz, "end") if data.end is not None else now
    try:
        await write(ctx, lambda db: audit.end(db, actor=user.name, scope=user.scope, mark_id=mark_id, end_ms=end,
                                              note=data.note, origin="api", now_ms=now))
    except AuditError as exc:
        raise _problem(exc) from None
    return await _shown(ctx, user, mark_id)


@get("/api/v1/points/{point_id:int}/invalid", tags=["data audit"], summary="A point's invalid ranges",
     security=BEARER)
async def point_invalid(
    point_id: FromPath[int],
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    from_: Annotated[str, QueryParameter(name="from", description="ISO 8601 or epoch ms")],
    to: Annotated[str, QueryParameter(description="ISO 8601 or epoch ms")],
) -> InvalidRanges:
    """Where the point's data counts as invalid in ``[from, to)``, after every mark in force (its
    own, its device's, its site's; a later mark decides its part): what its chart shades. A point
    outside your scope is 404."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    tz = ctx.settings.tz
    start, end = _moment(from_, tz, "from"), _moment(to, tz, "to")
    if end <= start:
        raise ApiProblem(400, "to must be after from")
    if end - start > _MAX_WINDOW_MS:
        raise ApiProblem(400, "ask at most 400 days at once")
    if not 0 < point_id <= _MAX_ID:
        raise ApiProblem(404, f"no point {point_id} in your scope")

    def query(db: Any) -> tuple[tuple[int, str], list[tuple[int, int]]] | None:
        site = audit_marks.target_in_scope(db, user.scope, MarkTarget.POINT, point_id)
        if site is None:
            return None
        return site, audit_marks.invalid_ranges(db, [point_id], start, end).get(point_id, [])

    found = await read(ctx, query)
    if found is None:
        raise ApiProblem(404, f"no point {point_id} in your scope")
    (site_id, site_name), ranges = found
    return InvalidRanges(point_id=point_id, site_id=site_id, site=site_name, from_ms=start, to_ms=end, ranges=[
        InvalidSpan(start=iso(a, tz), end=iso(b, tz), start_ms=a, end_ms=b) for a, b in ranges])


#: every handler of this module, for the app's route list
DATA_AUDIT_ROUTES = [list_marks, show_mark, create_mark, revoke_mark, end_mark, point_invalid]
