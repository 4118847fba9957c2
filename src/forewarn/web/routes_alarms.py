"""Alarms over HTTP: list, show, every handling step, and silences (maintenance windows).

The same things ``forewarn alarms`` does (list, show, ack, dispatch, record, resolve, close,
comment, silence), with two differences that come from the caller being a logged-in person
rather than whoever holds the database file:

* the actor of a step is the authenticated user, never a field of the body, and every step
  is in the audit log in the transaction that takes it;
* everything is scoped: an alarm outside the user's scope answers 404, as if it did not exist,
  for reads and for steps alike (the scope is checked again inside the step's transaction, on
  the writer thread, so nothing can move the alarm out of reach between the check and the step).

Each use case lives in :mod:`forewarn.alarms.handling` (which the CLI and the dashboard call
too); a route here parses the request, calls it on the writer thread and shapes the answer.
Reads run on the reader threads (:func:`forewarn.web.reads.read`), not the loop that answers
devices.

Who may do what: reading needs ``read``; acknowledge, dispatch, resolve, close and silence need
``handle_alarms``; an on-site check needs ``record_checks`` (an enterprise user records checks
on its own sites' alarms); a comment needs either.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import mimetypes
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.access.users import User
from forewarn.alarms.api_queries import (
    STATES,
    AlarmFilter,
    alarm_brief,
    alarm_rule,
    count_alarms,
    count_silences,
    page_alarms,
    scoped_alarm_detail,
    scoped_silences,
)
from forewarn.alarms.handling import (
    BULK_STEPS,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_BULK,
    Actor,
    HandlingError,
    SilenceInput,
    StepInput,
    add_silence,
    allowed_steps,
    bulk_step,
    check_permission,
    end_silence,
    keep_attachments,
    take_step,
)
from forewarn.alarms.views import (
    LIST_COLUMNS,
    SILENCE_COLUMNS,
    AlarmDetail,
    AlarmPage,
    BulkAnswer,
    Silence,
    SilencePage,
    StepAnswer,
    alarm_detail_view,
    alarm_item,
    silence_view,
)
from forewarn.model import ALARM_LEVELS, Domain
from forewarn.times import parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.fields import read_object, text_field
from forewarn.web.problems import ApiProblem
from forewarn.web.query import check_choice, reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, next_page, table_response, wants_csv
from forewarn.web.writes import write

__all__ = ["ALARM_ROUTES", "ack_alarm", "add_silence_route", "alarm_list", "alarm_show", "bulk_alarms", "close_alarm",
           "comment_alarm", "dispatch_alarm", "list_silences", "record_alarm", "resolve_alarm"]

_MAX_ID = 2**63 - 1
#: an on-site check may carry photos as base64 (4 bytes for every 3), besides a few notes
_RECORD_BODY_BYTES = MAX_ATTACHMENT_BYTES * 4 // 3 + 200_000
_RECORD_TOO_LARGE = (f"an on-site check carries at most {MAX_ATTACHMENTS} files of "
                     f"{MAX_ATTACHMENT_BYTES // 1_000_000} MB in all (as base64 in the JSON body): send smaller "
                     "photos, or the rest with another record step")
_DOMAINS = tuple(d.value for d in Domain)


# ---------------------------------------------------------------- shared pieces


def _actor(user: User) -> Actor:
    return Actor(user.name, user.scope, "api", str(user.role))


def _problem(exc: HandlingError) -> ApiProblem:
    """A use case's refusal as problem+json (a 404 also says where to find what exists)."""
    detail = exc.detail
    if exc.status == 404 and exc.title == "Unknown alarm":
        detail += " (see GET /api/v1/alarms)"
    extra = {"state": exc.state} if exc.state is not None else {}
    return ApiProblem(exc.status, detail, title=exc.title, **extra)


def _not_found(alarm_id: int) -> ApiProblem:
    return ApiProblem(404, f"no alarm {alarm_id} in your scope (see GET /api/v1/alarms)", title="Unknown alarm")


def _check_id(alarm_id: int) -> None:
    if not 0 < alarm_id <= _MAX_ID:
        raise _not_found(alarm_id)


def _moment(text: str, tz: ZoneInfo, name: str) -> int:
    try:
        return parse_moment(text, tz)
    except ValueError as exc:
        raise ApiProblem(400, f"{name}={exc}") from None


def _lang(lang: str) -> str:
    return check_choice("lang", lang, ("zh", "en")) or "zh"


def _permitted(user: User, action: str) -> Actor:
    actor = _actor(user)
    try:
        check_permission(actor, action)
    except HandlingError as exc:
        raise _problem(exc) from None
    return actor


# ---------------------------------------------------------------- reading


@get("/api/v1/alarms", tags=["alarms"], summary="Alarms, newest first", security=BEARER)
async def alarm_list(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    # "state" is a name Litestar reserves for the app's state
    state_: Annotated[str | None, QueryParameter(name="state", description=f"one of {', '.join(STATES)}",
                                                 schema_extra={"enum": list(STATES)})] = None,
    level: Annotated[int | None, QueryParameter(description="1 to 4")] = None,
    domain: Annotated[str | None, QueryParameter(description=f"one of {', '.join(_DOMAINS)} (told by the rule id)",
                                                 schema_extra={"enum": list(_DOMAINS)})] = None,
    site: Annotated[int | None, QueryParameter(description="a site id")] = None,
    region: Annotated[str | None, QueryParameter(description="a division code: that region and those under it")]
    = None,
    rule: Annotated[str | None, QueryParameter(description="a rule id, e.g. gas.lel")] = None,
    open_: Annotated[bool | None, QueryParameter(name="open", description="true: not yet closed; false: closed")]
    = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="first seen at or after (ISO 8601 or "
                                                                          "epoch ms)")] = None,
    to: Annotated[str | None, QueryParameter(description="first seen at or before (ISO 8601 or epoch ms)")] = None,
    group: Annotated[int | None, QueryParameter(description="a storm's group_id: its alarms, to handle together")]
    = None,
    lang: Annotated[str, QueryParameter(description="zh or en: the language of title and explanation",
                                        schema_extra={"enum": ["zh", "en"]})] = "zh",
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[AlarmPage]:
    """The alarms in your scope, newest first, as a page (``items``, ``total``, ``next``) or CSV.

    Times are ISO 8601 with the offset of the configured time zone; ``from``/``to`` bound when an
    alarm was first seen. ``domain`` is told by the rule id (``gas.lel`` is gas). Alarms without
    a site (platform-wide) are shown only to the city administrators and to auditors without a
    region. A query parameter this list does not take, or a value outside a parameter's
    choices, is 400 naming what it takes."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    tz = ctx.settings.tz
    page = check_page(limit, offset)
    lang = _lang(lang)
    csv = wants_csv(request, format_)
    state = check_choice("state", state_, STATES)
    if level is not None and level not in ALARM_LEVELS:
        raise ApiProblem(400, f"level={level} is not one of {', '.join(map(str, ALARM_LEVELS))}")
    if region is not None and not region.strip():
        raise ApiProblem(400, "region is empty: give a division code such as 451202, or leave it out")
    flt = AlarmFilter(
        state=state, level=level, site_id=site, region=region.strip() if region else None,
        rule_id=rule or None, domain=check_choice("domain", domain, _DOMAINS), open=open_,
        from_ms=_moment(from_, tz, "from") if from_ is not None else None,
        to_ms=_moment(to, tz, "to") if to is not None else None, group_id=group,
    )
    if flt.from_ms is not None and flt.to_ms is not None and flt.from_ms > flt.to_ms:
        raise ApiProblem(400, "from is after to: swap them")

    def query(db: Any) -> tuple[list[Any], int]:
        rows = page_alarms(db, user.scope, flt, *page)
        return [alarm_item(r, lang, tz) for r in rows], count_alarms(db, user.scope, flt)

    items, total = await read(ctx, query)
    if csv:
        return table_response(request, [msgspec.to_builtins(i) for i in items], total, page, "csv",
                              columns=LIST_COLUMNS, name="alarms")
    return Response(AlarmPage(items=items, total=total, limit=page[0], offset=page[1],
                              next=next_page(request, page, len(items), total)))


@get("/api/v1/alarms/{alarm_id:int}", tags=["alarms"], summary="One alarm with its handling and evidence",
     security=BEARER)
async def alarm_show(
    alarm_id: FromPath[int],
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    lang: Annotated[str, QueryParameter(description="zh or en: the language of title and explanation",
                                        schema_extra={"enum": ["zh", "en"]})] = "zh",
) -> AlarmDetail:
    """The alarm (as in the list, plus both languages' titles and explanations), every handling
    step (``step``, ``actor``, ``at``, ``note``, ``data``) oldest first, the stored readings
    kept as its evidence, its rule as the recorded version stood (with the limits that applied
    to its point), and ``next_steps``: the steps its state allows that you may take. An alarm
    outside your scope is 404."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    lang = _lang(lang)
    _check_id(alarm_id)
    tz = ctx.settings.tz
    actor = _actor(user)

    def query(db: Any) -> AlarmDetail | None:
        detail = scoped_alarm_detail(db, user.scope, alarm_id)
        if detail is None:
            return None
        mine = []
        for step in allowed_steps(detail["state"]):
            try:
                check_permission(actor, step)
            except HandlingError:
                continue
            mine.append(step)
        return alarm_detail_view(detail, lang, tz, alarm_rule(db, detail), mine)

    shown = await read(ctx, query)
    if shown is None:
        raise _not_found(alarm_id)
    return shown


@get("/api/v1/alarms/{alarm_id:int}/attachments/{sha256:str}", tags=["alarms"],
     summary="A file of an on-site check", security=BEARER)
async def alarm_attachment(alarm_id: FromPath[int], sha256: FromPath[str], request: Request[Any, Any, Any],
                           ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """The photo or document recorded with an on-site check of this alarm (by its SHA-256, as
    the step lists it). An alarm outside your scope is 404."""
    user = require_user(request, ctx, Action.READ)
    _check_id(alarm_id)
    detail = await read(ctx, lambda db: scoped_alarm_detail(db, user.scope, alarm_id))
    if detail is None:
        raise _not_found(alarm_id)
    for s in detail["steps"]:
        for f in s["data"].get("attachments", []) if isinstance(s["data"], dict) else []:
            if isinstance(f, dict) and f.get("sha256") == sha256:
                path = Path(str(f.get("stored", "")))
                if not path.is_file():
                    raise ApiProblem(410, f"the file {f.get('name')} is no longer in the data directory",
                                     title="Gone")
                name = str(f.get("name", "attachment"))
                media = mimetypes.guess_type(name)[0] or ""
                if not (media.startswith("image/") and media != "image/svg+xml" or media == "application/pdf"):
                    media = "application/octet-stream"  # an uploaded page or script never runs here
                data = await asyncio.to_thread(path.read_bytes)
                return Response(data, media_type=media, headers={
                    "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                    "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
    raise ApiProblem(404, f"alarm {alarm_id} has no attachment {sha256}")


# ---------------------------------------------------------------- handling steps


async def _step(ctx: ApiContext, actor: Actor, alarm_id: int, step: StepInput) -> StepAnswer:
    """The step on the writer thread: permission, scope, workflow, audit, all in one transaction
    (so nothing can move the alarm out of reach between the check and the step)."""
    _check_id(alarm_id)
    now = ctx.pipeline.now_ms()
    recorder = ctx.recorder()
    try:
        return await write(ctx, lambda db: take_step(db, actor, alarm_id, step, now, recorder=recorder,
                                                     tz=ctx.settings.tz))
    except HandlingError as exc:
        raise _problem(exc) from None


_STEP_DOC = ("Answers the alarm's new ``state``, ``level``, ``assignee`` and the ``step`` recorded (you are its "
             "actor). A step out of order is 409 saying what comes first; an alarm outside your scope is 404.")


@post("/api/v1/alarms/{alarm_id:int}/ack", tags=["alarms"], summary="Acknowledge an alarm", security=BEARER,
      status_code=200, description=f'Body (optional): {{"note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def ack_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                    ctx: NamedDependency[ApiContext]) -> StepAnswer:
    """Acknowledge: someone on duty has seen the alarm (it stops escalating)."""
    actor = _permitted(require_user(request, ctx, Action.READ), "ack")
    body = await read_object(request, ("note",))
    return await _step(ctx, actor, alarm_id, StepInput("ack", note=text_field(body, "note")))


@post("/api/v1/alarms/{alarm_id:int}/dispatch", tags=["alarms"], summary="Send a unit or person", security=BEARER,
      status_code=200, description=f'Body: {{"to": "...", "note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def dispatch_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                         ctx: NamedDependency[ApiContext]) -> StepAnswer:
    """Dispatch to a unit or person (who becomes the alarm's assignee); may be repeated to send someone else."""
    actor = _permitted(require_user(request, ctx, Action.READ), "dispatch")
    body = await read_object(request, ("to", "note"))
    to = text_field(body, "to", required='dispatch needs "to": the unit or person sent')
    return await _step(ctx, actor, alarm_id, StepInput("dispatch", note=text_field(body, "note"), to=to))


@post("/api/v1/alarms/{alarm_id:int}/record", tags=["alarms"], summary="Record the on-site check", security=BEARER,
      status_code=200,
      description='Body: {"findings": "...", "measures": "...", "note": "...", "attachments": [{"name": "photo.jpg", '
                  f'"base64": "..."}}]}}. At most {MAX_ATTACHMENTS} attachments of '
                  f'{MAX_ATTACHMENT_BYTES // 1_000_000} MB in all (before base64). Needs record_checks. {_STEP_DOC}')
async def record_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                       ctx: NamedDependency[ApiContext]) -> StepAnswer:
    """Record what was found on site and what was done, with photos or documents if any.

    Attachments are kept in the data directory under their SHA-256 digest, like those of
    ``forewarn alarms record --attach``; they are written only after the alarm was found in your
    scope, before the step's transaction (a refused step may leave an unused file behind)."""
    actor = _permitted(require_user(request, ctx, Action.READ), "record")
    _check_id(alarm_id)
    if alarm_brief(ctx.store.db, actor.scope, alarm_id) is None:  # before taking megabytes in
        raise _not_found(alarm_id)
    body = await read_object(request, ("findings", "measures", "note", "attachments"), _RECORD_BODY_BYTES,
                             advice=_RECORD_TOO_LARGE)
    findings = text_field(body, "findings", required='an on-site check needs "findings": what was found')
    measures = text_field(body, "measures")
    note = text_field(body, "note")
    given = body.get("attachments")
    kept: list[dict[str, object]] = []
    if given:
        folder = ctx.settings.attachments_path / str(alarm_id)
        try:  # decoding and writing megabytes: off the loop that answers devices
            kept = await asyncio.to_thread(lambda: keep_attachments(_attachments(given), folder))
        except HandlingError as exc:
            raise _problem(exc) from None
    step = StepInput("record", note=note, findings=findings, measures=measures, attachments=kept)
    return await _step(ctx, actor, alarm_id, step)


@post("/api/v1/alarms/{alarm_id:int}/resolve", tags=["alarms"], summary="Mark an alarm resolved", security=BEARER,
      status_code=200, description=f'Body (optional): {{"note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def resolve_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> StepAnswer:
    """Resolve: the cause is dealt with; the alarm waits for review (close)."""
    actor = _permitted(require_user(request, ctx, Action.READ), "resolve")
    body = await read_object(request, ("note",))
    return await _step(ctx, actor, alarm_id, StepInput("resolve", note=text_field(body, "note")))


@post("/api/v1/alarms/{alarm_id:int}/close", tags=["alarms"], summary="Close an alarm after review", security=BEARER,
      status_code=200, description=f'Body (optional): {{"note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def close_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> StepAnswer:
    """Close after review; the condition firing again later opens a new alarm."""
    actor = _permitted(require_user(request, ctx, Action.READ), "close")
    body = await read_object(request, ("note",))
    return await _step(ctx, actor, alarm_id, StepInput("close", note=text_field(body, "note")))


@post("/api/v1/alarms/{alarm_id:int}/comment", tags=["alarms"], summary="Comment on an alarm", security=BEARER,
      status_code=200,
      description=f'Body: {{"text": "..."}}. Any state, closed included. Needs record_checks or handle_alarms. '
                  f'{_STEP_DOC}')
async def comment_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> StepAnswer:
    """A comment changes nothing but the record; it is allowed at any time."""
    actor = _permitted(require_user(request, ctx, Action.READ), "comment")
    body = await read_object(request, ("text",))
    text = text_field(body, "text", required='a comment needs "text"')
    return await _step(ctx, actor, alarm_id, StepInput("comment", note=text))


@post("/api/v1/alarms/bulk", tags=["alarms"], summary="One step on many alarms", security=BEARER, status_code=200,
      description=f'Body: {{"ids": [1, 2, ...], "step": "{BULK_STEPS[0]}", "note": "...", "to": "..."}} with step one '
                  f'of {", ".join(BULK_STEPS)} (a comment\'s text is its note; dispatch needs "to"); at most '
                  f"{MAX_BULK} alarms. Each alarm's step is audited on its own; the answer lists each alarm: ok with "
                  "its new state, or the status and detail the step alone would have been answered. 200 even when "
                  "some are refused.")
async def bulk_alarms(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> BulkAnswer:
    """Handle an alarm storm at once (many devices silent after a network cut): select many,
    take one step for all."""
    user = require_user(request, ctx, Action.READ)
    body = await read_object(request, ("ids", "step", "note", "to"))
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ApiProblem(400, '"ids" must be a list of alarm ids (numbers)')
    action = body.get("step")
    if not isinstance(action, str) or action not in BULK_STEPS:
        raise ApiProblem(400, f'"step" must be one of {", ".join(BULK_STEPS)}'
                              + (" (an on-site check is recorded alarm by alarm)" if action == "record" else ""))
    actor = _permitted(user, action)
    step = StepInput(action, note=text_field(body, "note"), to=text_field(body, "to"))
    now = ctx.pipeline.now_ms()
    recorder = ctx.recorder()
    # an id beyond what SQLite holds is one that does not exist: answered per id, as alone
    wanted = [i if 0 < i <= _MAX_ID else 0 for i in ids]
    try:
        return await write(ctx, lambda db: bulk_step(db, actor, wanted, step, now, recorder=recorder,
                                                     tz=ctx.settings.tz))
    except HandlingError as exc:
        raise _problem(exc) from None


# ---------------------------------------------------------------- attachments


def _attachments(value: object) -> list[tuple[str, bytes]]:
    """(name, bytes) of each ``{"name", "base64"}``; 400 with what to send otherwise."""
    if not isinstance(value, list):
        raise HandlingError(400, '"attachments" must be a list of {"name": "...", "base64": "..."}')
    if len(value) > MAX_ATTACHMENTS:
        raise HandlingError(400, f"{len(value)} attachments: send at most {MAX_ATTACHMENTS} with one check "
                                 "(add more with another record step)")
    out = []
    for i, item in enumerate(value):
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("base64"), str)):
            raise HandlingError(400, f'attachment {i + 1}: send {{"name": "photo.jpg", "base64": "..."}}')
        try:
            data = base64.b64decode(item["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise HandlingError(400, f"attachment {i + 1} ({item['name'][:100]}): base64 is not valid (standard "
                                     "alphabet, padded)") from None
        out.append((item["name"], data))
    return out


# ---------------------------------------------------------------- silences


@get("/api/v1/silences", tags=["alarms"], summary="Silences running now or to come", security=BEARER)
async def list_silences(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[SilencePage]:
    """Maintenance windows in your scope that have not ended, the soonest to end first. During a
    silence alarms are still recorded, but not announced."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    page = check_page(limit, offset)
    csv = wants_csv(request, format_)
    now = ctx.pipeline.now_ms()
    tz = ctx.settings.tz

    def query(db: Any) -> tuple[list[Silence], int]:
        rows = scoped_silences(db, user.scope, now, *page)
        return [silence_view(r, tz) for r in rows], count_silences(db, user.scope, now)

    items, total = await read(ctx, query)
    if csv:
        return table_response(request, [msgspec.to_builtins(i) for i in items], total, page, "csv",
                              columns=SILENCE_COLUMNS, name="silences")
    return Response(SilencePage(items=items, total=total, limit=page[0], offset=page[1],
                                next=next_page(request, page, len(items), total)))


def _moment_field(body: dict[str, Any], key: str, tz: ZoneInfo) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiProblem(400, f'"{key}" must be ISO 8601 (e.g. 2026-11-22T08:00:00+08:00) or epoch ms')
    return _moment(str(value), tz, key)


@post("/api/v1/silences", tags=["alarms"], summary="Silence a device or site for maintenance", security=BEARER,
      status_code=201)
async def add_silence_route(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> Silence:
    """Body: ``{"mn": "..."}`` or ``{"site_id": N}``, with ``"until"`` (ISO 8601 or epoch ms) and
    optionally ``"rule_id"`` (only that rule), ``"from"`` (default now) and ``"note"``.

    Alarms raised during the window are recorded but not announced (as ``forewarn alarms
    silence``). The device or site must be in your scope; needs handle_alarms; audited."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    body = await read_object(request, ("mn", "site_id", "rule_id", "from", "until", "note"))
    tz = ctx.settings.tz
    mn, site_id = body.get("mn"), body.get("site_id")
    if mn is not None and not isinstance(mn, str):
        raise ApiProblem(400, '"mn" must be a device\'s MN')
    if site_id is not None and (isinstance(site_id, bool) or not isinstance(site_id, int)):
        raise ApiProblem(400, '"site_id" must be a site\'s id (a number)')
    until = _moment_field(body, "until", tz)
    if until is None:
        raise ApiProblem(400, '"until" is needed: when the maintenance ends (ISO 8601 or epoch ms)')
    spec = SilenceInput(mn=mn, site_id=site_id, until_ms=until, from_ms=_moment_field(body, "from", tz),
                        rule_id=text_field(body, "rule_id"), note=text_field(body, "note"))
    actor = _actor(user)
    now = ctx.pipeline.now_ms()
    try:
        return await write(ctx, lambda db: add_silence(db, actor, spec, now, tz=tz))
    except HandlingError as exc:
        raise _problem(exc) from None


@delete("/api/v1/silences/{silence_id:int}", tags=["alarms"], summary="End a silence now", security=BEARER,
        status_code=200)
async def end_silence_route(silence_id: FromPath[int], request: Request[Any, Any, Any],
                            ctx: NamedDependency[ApiContext]) -> Silence:
    """The maintenance window ends now (one set by mistake, or work finished early): alarms are
    announced again from this moment. Its record stays. Needs handle_alarms; audited."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    if not 0 < silence_id < 2**63:
        raise ApiProblem(404, f"no silence {silence_id} in your scope")
    actor = _actor(user)
    now = ctx.pipeline.now_ms()
    try:
        return await write(ctx, lambda db: end_silence(db, actor, silence_id, now, tz=ctx.settings.tz))
    except HandlingError as exc:
        raise _problem(exc) from None

#: every handler of this module, for the app's route list
ALARM_ROUTES = [alarm_list, alarm_show, alarm_attachment, ack_alarm, dispatch_alarm, record_alarm, resolve_alarm,
                close_alarm, comment_alarm, bulk_alarms, list_silences, add_silence_route, end_silence_route]
