"""Alarms over HTTP: list, show, every handling step, and silences (maintenance windows).

The same things ``forewarn alarms`` does (list, show, ack, dispatch, record, resolve, close,
comment, silence), with two differences that come from the caller being a logged-in person
rather than whoever holds the database file:

* the actor of a step is the authenticated user, never a field of the body, and every step
  is in the audit log in the transaction that takes it;
* everything is scoped: an alarm outside the user's scope answers 404, as if it did not exist,
  for reads and for steps alike (the scope is checked again inside the step's transaction, on
  the writer thread, so nothing can move the alarm out of reach between the check and the step).

Who may do what: reading needs ``read``; acknowledge, dispatch, resolve, close and silence need
``handle_alarms``; an on-site check needs ``record_checks`` (an enterprise user records checks
on its own sites' alarms); a comment needs either.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import mimetypes
import re
import sqlite3
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from forewarn.access import audit
from forewarn.access.roles import Action
from forewarn.access.users import User
from forewarn.alarms.api_queries import (
    STATES,
    AlarmFilter,
    alarm_brief,
    count_alarms,
    count_silences,
    device_site_in_scope,
    page_alarms,
    scoped_alarm_detail,
    scoped_silences,
    silence_in_scope,
    site_in_scope,
)
from forewarn.alarms.workflow import AlarmError, StepRequest, apply_step
from forewarn.times import iso, parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.fields import read_object, text_field
from forewarn.web.problems import ApiProblem
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, table_response
from forewarn.web.writes import write

__all__ = ["ALARM_ROUTES", "ack_alarm", "add_silence", "alarm_list", "alarm_show", "close_alarm", "comment_alarm",
           "dispatch_alarm", "list_silences", "record_alarm", "resolve_alarm"]

_MAX_ID = 2**63 - 1
#: a step's body holds a few notes; an on-site check may also carry photos (base64)
_STEP_BODY_BYTES = 64_000
_RECORD_BODY_BYTES = 8_000_000
_MAX_ATTACHMENTS = 5
_LIST_COLUMNS = ("id", "rule_id", "rule_version", "level", "state", "condition", "live", "silenced", "escalated",
                 "overdue", "mn", "site_id", "site", "enterprise", "region_code", "region_name", "point", "title",
                 "explanation", "first_ts", "last_ts", "cleared_ts", "repeats", "assignee", "created", "updated",
                 "acked", "closed")
_SILENCE_COLUMNS = ("id", "mn", "site_id", "site", "rule_id", "from", "until", "note", "actor", "created")


# ---------------------------------------------------------------- shaping


def _when(ms: int | None, tz: ZoneInfo) -> str | None:
    return None if ms is None else iso(int(ms), tz)


def _alarm_item(row: dict[str, Any], lang: str, tz: ZoneInfo) -> dict[str, Any]:
    """An alarm as the API shows it: times ISO 8601 with offset, title and explanation in ``lang``."""
    item = {k: row[k] for k in ("id", "rule_id", "rule_version", "level", "state", "condition", "mn", "site_id",
                                "site", "enterprise", "region_code", "region_name", "point", "repeats", "assignee")}
    for flag in ("live", "silenced", "escalated", "overdue"):
        item[flag] = bool(row[flag])
    item["title"] = row[f"title_{lang}"]
    item["explanation"] = row[f"explanation_{lang}"]
    for key in ("first_ts", "last_ts", "cleared_ts"):
        item[key] = _when(row[key], tz)
    for key in ("created", "updated", "acked", "closed"):
        item[key] = _when(row[f"{key}_ms"], tz)
    return {k: item[k] for k in _LIST_COLUMNS}


def _silence_item(row: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    return {"id": row["id"], "mn": row["mn"] or None, "site_id": row["site_id"], "site": row["site"],
            "rule_id": row["rule_id"] or None, "from": iso(row["from_ms"], tz), "until": iso(row["until_ms"], tz),
            "note": row["reason"], "actor": row["actor"], "created": iso(row["created_ms"], tz)}


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
    if lang not in ("zh", "en"):
        raise ApiProblem(400, f"lang={lang!r}: use zh or en")
    return lang


# ---------------------------------------------------------------- reading


@get("/api/v1/alarms", tags=["alarms"], summary="Alarms, newest first", security=BEARER, sync_to_thread=False)
def alarm_list(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    # "state" is a name Litestar reserves for the app's state
    state_: Annotated[str | None, QueryParameter(name="state", description=f"one of {', '.join(STATES)}")] = None,
    level: Annotated[int | None, QueryParameter(description="1 to 4")] = None,
    site: Annotated[int | None, QueryParameter(description="a site id")] = None,
    region: Annotated[str | None, QueryParameter(description="a division code: that region and those under it")]
    = None,
    rule: Annotated[str | None, QueryParameter(description="a rule id, e.g. gas.lel")] = None,
    open_: Annotated[bool | None, QueryParameter(name="open", description="true: not yet closed; false: closed")]
    = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="first seen at or after (ISO 8601 or "
                                                                          "epoch ms)")] = None,
    to: Annotated[str | None, QueryParameter(description="first seen at or before (ISO 8601 or epoch ms)")] = None,
    lang: Annotated[str, QueryParameter(description="zh or en: the language of title and explanation")] = "zh",
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[Any]:
    """The alarms in your scope, newest first, as a page (``items``, ``total``, ``next``) or CSV.

    Times are ISO 8601 with the offset of the configured time zone; ``from``/``to`` bound when an
    alarm was first seen. Alarms without a site (platform-wide) are shown only to the city
    administrators and to auditors without a region."""
    user = require_user(request, ctx, Action.READ)
    tz = ctx.settings.tz
    page = check_page(limit, offset)
    lang = _lang(lang)
    if state_ is not None and state_ not in STATES:
        raise ApiProblem(400, f"state={state_!r}: use one of {', '.join(STATES)}")
    if level is not None and not 1 <= level <= 4:
        raise ApiProblem(400, f"level={level}: use 1 to 4")
    if region is not None and not region.strip():
        raise ApiProblem(400, "region is empty: give a division code such as 451202, or leave it out")
    flt = AlarmFilter(
        state=state_, level=level, site_id=site, region=region.strip() if region else None,
        rule_id=rule or None, open=open_,
        from_ms=_moment(from_, tz, "from") if from_ is not None else None,
        to_ms=_moment(to, tz, "to") if to is not None else None,
    )
    if flt.from_ms is not None and flt.to_ms is not None and flt.from_ms > flt.to_ms:
        raise ApiProblem(400, "from is after to: swap them")
    db = ctx.store.db
    rows = page_alarms(db, user.scope, flt, *page)
    total = count_alarms(db, user.scope, flt)
    items = [_alarm_item(r, lang, tz) for r in rows]
    return table_response(request, items, total, page, format_, columns=_LIST_COLUMNS, name="alarms")


@get("/api/v1/alarms/{alarm_id:int}", tags=["alarms"], summary="One alarm with its handling and evidence",
     security=BEARER, sync_to_thread=False)
def alarm_show(
    alarm_id: FromPath[int],
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    lang: Annotated[str, QueryParameter(description="zh or en: the language of title and explanation")] = "zh",
) -> dict[str, Any]:
    """The alarm (as in the list, plus both languages' titles and explanations), every handling
    step (``step``, ``actor``, ``at``, ``note``, ``data``) oldest first, and the stored readings
    kept as its evidence. An alarm outside your scope is 404."""
    user = require_user(request, ctx, Action.READ)
    lang = _lang(lang)
    _check_id(alarm_id)
    detail = scoped_alarm_detail(ctx.store.db, user.scope, alarm_id)
    if detail is None:
        raise _not_found(alarm_id)
    tz = ctx.settings.tz
    out = _alarm_item(detail, lang, tz)
    out.update({k: detail[k] for k in ("subject", "title_zh", "title_en", "explanation_zh", "explanation_en")})
    out["steps"] = [{"step": s["step"], "actor": s["actor"], "at": iso(s["at_ms"], tz), "note": s["note"],
                     "data": _public_data(alarm_id, s["data"])} for s in detail["steps"]]
    out["evidence"] = [{"mn": e["mn"], "code": e["code"], "field": e["field"], "kind": e["kind"],
                        "ts": iso(e["ts_ms"], tz), "value": e["value"], "flag": e["flag"]} for e in detail["evidence"]]
    return out


def _public_data(alarm_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A step's data as a client may see it: an attachment's address on this API instead of
    where the server keeps the file."""
    files = data.get("attachments")
    if not isinstance(files, list):
        return data
    shown = []
    for f in files:
        if isinstance(f, dict):
            f = {k: v for k, v in f.items() if k != "stored"}
            f["url"] = f"/api/v1/alarms/{alarm_id}/attachments/{f.get('sha256', '')}"
        shown.append(f)
    return {**data, "attachments": shown}


@get("/api/v1/alarms/{alarm_id:int}/attachments/{sha256:str}", tags=["alarms"],
     summary="A file of an on-site check", security=BEARER, sync_to_thread=False)
def alarm_attachment(alarm_id: FromPath[int], sha256: FromPath[str], request: Request[Any, Any, Any],
                     ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """The photo or document recorded with an on-site check of this alarm (by its SHA-256, as
    the step lists it). An alarm outside your scope is 404."""
    user = require_user(request, ctx, Action.READ)
    _check_id(alarm_id)
    detail = scoped_alarm_detail(ctx.store.db, user.scope, alarm_id)
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
                return Response(path.read_bytes(), media_type=media, headers={
                    "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                    "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
    raise ApiProblem(404, f"alarm {alarm_id} has no attachment {sha256}")


# ---------------------------------------------------------------- handling steps


def _require_any(request: Request[Any, Any, Any], ctx: ApiContext, *actions: Action) -> User:
    user = require_user(request, ctx, Action.READ)
    if not any(user.scope.can(a) for a in actions):
        wanted = " or ".join(a.value.replace("_", " ") for a in actions)
        raise ApiProblem(403, f"user {user.name!r} ({user.role}) may not {wanted}")
    return user


async def _step(ctx: ApiContext, user: User, alarm_id: int, req: StepRequest) -> dict[str, Any]:
    """Take the step on the writer thread: scope, workflow, audit, all in one transaction."""
    _check_id(alarm_id)
    now = ctx.pipeline.now_ms()
    recorder = ctx.recorder()

    def work(db: sqlite3.Connection) -> dict[str, Any]:
        before = alarm_brief(db, user.scope, alarm_id)
        if before is None:
            raise _not_found(alarm_id)
        try:
            apply_step(db, alarm_id, req, now, recorder)
        except AlarmError as exc:
            raise ApiProblem(409, str(exc), title="Step not allowed now", state=before["state"]) from None
        after = alarm_brief(db, user.scope, alarm_id)
        audit.record(db, user.name, f"alarm.{req.action}", "alarm", alarm_id, before, after, "api", at_ms=now)
        step_row = db.execute("SELECT step, actor, at_ms, note, data FROM alarm_steps WHERE alarm_id = ? "
                              "ORDER BY id DESC LIMIT 1", (alarm_id,)).fetchone()
        assert after is not None and step_row is not None
        name, actor, at_ms, note, data = step_row
        return {"id": alarm_id, **after,
                "step": {"step": name, "actor": actor, "at": iso(at_ms, ctx.settings.tz), "note": note,
                         "data": _public_data(alarm_id, json.loads(data))}}

    return await write(ctx, work)


_STEP_DOC = ("Answers the alarm's new ``state``, ``level``, ``assignee`` and the ``step`` recorded (you are its "
             "actor). A step out of order is 409 saying what comes first; an alarm outside your scope is 404.")


@post("/api/v1/alarms/{alarm_id:int}/ack", tags=["alarms"], summary="Acknowledge an alarm", security=BEARER,
      status_code=200, description=f'Body (optional): {{"note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def ack_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                    ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Acknowledge: someone on duty has seen the alarm (it stops escalating)."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    body = await read_object(request, ("note",))
    return await _step(ctx, user, alarm_id, StepRequest("ack", user.name, note=text_field(body, "note")))


@post("/api/v1/alarms/{alarm_id:int}/dispatch", tags=["alarms"], summary="Send a unit or person", security=BEARER,
      status_code=200, description=f'Body: {{"to": "...", "note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def dispatch_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                         ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Dispatch to a unit or person (who becomes the alarm's assignee); may be repeated to send someone else."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    body = await read_object(request, ("to", "note"))
    to = text_field(body, "to", required='dispatch needs "to": the unit or person sent')
    return await _step(ctx, user, alarm_id, StepRequest("dispatch", user.name, note=text_field(body, "note"), to=to))


@post("/api/v1/alarms/{alarm_id:int}/record", tags=["alarms"], summary="Record the on-site check", security=BEARER,
      status_code=200,
      description='Body: {"findings": "...", "measures": "...", "note": "...", "attachments": [{"name": "photo.jpg", '
                  f'"base64": "..."}}]}}. At most {_MAX_ATTACHMENTS} attachments, the whole body at most '
                  f'{_RECORD_BODY_BYTES // 1_000_000} MB. Needs record_checks. {_STEP_DOC}')
async def record_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                       ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Record what was found on site and what was done, with photos or documents if any.

    Attachments are kept in the data directory under their SHA-256 digest, like those of
    ``forewarn alarms record --attach``; they are written only after the alarm was found in your
    scope, before the step's transaction (a refused step may leave an unused file behind)."""
    user = require_user(request, ctx, Action.RECORD_CHECKS)
    _check_id(alarm_id)
    if alarm_brief(ctx.store.db, user.scope, alarm_id) is None:
        raise _not_found(alarm_id)
    body = await read_object(request, ("findings", "measures", "note", "attachments"), _RECORD_BODY_BYTES)
    findings = text_field(body, "findings", required='an on-site check needs "findings": what was found')
    measures = text_field(body, "measures")
    files = _attachments(body.get("attachments"))
    kept = await asyncio.to_thread(_keep, files, ctx.settings.attachments_path / str(alarm_id)) if files else []
    req = StepRequest("record", user.name, note=text_field(body, "note"), findings=findings, measures=measures,
                      attachments=kept)
    return await _step(ctx, user, alarm_id, req)


@post("/api/v1/alarms/{alarm_id:int}/resolve", tags=["alarms"], summary="Mark an alarm resolved", security=BEARER,
      status_code=200, description=f'Body (optional): {{"note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def resolve_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Resolve: the cause is dealt with; the alarm waits for review (close)."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    body = await read_object(request, ("note",))
    return await _step(ctx, user, alarm_id, StepRequest("resolve", user.name, note=text_field(body, "note")))


@post("/api/v1/alarms/{alarm_id:int}/close", tags=["alarms"], summary="Close an alarm after review", security=BEARER,
      status_code=200, description=f'Body (optional): {{"note": "..."}}. Needs handle_alarms. {_STEP_DOC}')
async def close_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Close after review; the condition firing again later opens a new alarm."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    body = await read_object(request, ("note",))
    return await _step(ctx, user, alarm_id, StepRequest("close", user.name, note=text_field(body, "note")))


@post("/api/v1/alarms/{alarm_id:int}/comment", tags=["alarms"], summary="Comment on an alarm", security=BEARER,
      status_code=200,
      description=f'Body: {{"text": "..."}}. Any state, closed included. Needs record_checks or handle_alarms. '
                  f'{_STEP_DOC}')
async def comment_alarm(alarm_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """A comment changes nothing but the record; it is allowed at any time."""
    user = _require_any(request, ctx, Action.RECORD_CHECKS, Action.HANDLE_ALARMS)
    body = await read_object(request, ("text",))
    text = text_field(body, "text", required='a comment needs "text"')
    return await _step(ctx, user, alarm_id, StepRequest("comment", user.name, note=text))


# ---------------------------------------------------------------- attachments

_SAFE_NAME = re.compile(r"[^\w.\-]+")


def _attachments(value: object) -> list[tuple[str, bytes]]:
    """(name, bytes) of each ``{"name", "base64"}``; 400 with what to send otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiProblem(400, '"attachments" must be a list of {"name": "...", "base64": "..."}')
    if len(value) > _MAX_ATTACHMENTS:
        raise ApiProblem(400, f"{len(value)} attachments: send at most {_MAX_ATTACHMENTS} with one check "
                              "(add more with another record step)")
    out = []
    for i, item in enumerate(value):
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("base64"), str)):
            raise ApiProblem(400, f'attachment {i + 1}: send {{"name": "photo.jpg", "base64": "..."}}')
        name = _SAFE_NAME.sub("_", Path(item["name"].replace("\\", "/")).name).strip("._")[:100] or "attachment"
        try:
            data = base64.b64decode(item["base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiProblem(400, f"attachment {i + 1} ({name}): base64 is not valid (standard alphabet, padded)") \
                from None
        if not data:
            raise ApiProblem(400, f"attachment {i + 1} ({name}) is empty")
        out.append((name, data))
    return out


def _keep(files: list[tuple[str, bytes]], folder: Path) -> list[dict[str, object]]:
    """Write each file as ``<digest[:12]>-<name>`` (in a worker thread: the loop serves devices)."""
    folder.mkdir(parents=True, exist_ok=True)
    kept: list[dict[str, object]] = []
    for name, data in files:
        digest = hashlib.sha256(data).hexdigest()
        path = folder / f"{digest[:12]}-{name}"
        path.write_bytes(data)
        kept.append({"name": name, "stored": str(path), "sha256": digest, "bytes": len(data)})
    return kept


# ---------------------------------------------------------------- silences


@get("/api/v1/silences", tags=["alarms"], summary="Silences running now or to come", security=BEARER,
     sync_to_thread=False)
def list_silences(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[Any]:
    """Maintenance windows in your scope that have not ended, the soonest to end first. During a
    silence alarms are still recorded, but not announced."""
    user = require_user(request, ctx, Action.READ)
    page = check_page(limit, offset)
    now = ctx.pipeline.now_ms()
    db = ctx.store.db
    rows = scoped_silences(db, user.scope, now, *page)
    items = [_silence_item(r, ctx.settings.tz) for r in rows]
    return table_response(request, items, count_silences(db, user.scope, now), page, format_,
                          columns=_SILENCE_COLUMNS, name="silences")


def _moment_field(body: dict[str, Any], key: str, tz: ZoneInfo) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiProblem(400, f'"{key}" must be ISO 8601 (e.g. 2026-11-22T08:00:00+08:00) or epoch ms')
    return _moment(str(value), tz, key)


@post("/api/v1/silences", tags=["alarms"], summary="Silence a device or site for maintenance", security=BEARER,
      status_code=201)
async def add_silence(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Body: ``{"mn": "..."}`` or ``{"site_id": N}``, with ``"until"`` (ISO 8601 or epoch ms) and
    optionally ``"rule_id"`` (only that rule), ``"from"`` (default now) and ``"note"``.

    Alarms raised during the window are recorded but not announced (as ``forewarn alarms
    silence``). The device or site must be in your scope; needs handle_alarms; audited."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    body = await read_object(request, ("mn", "site_id", "rule_id", "from", "until", "note"))
    tz = ctx.settings.tz
    mn, site_id = body.get("mn"), body.get("site_id")
    if (mn is None) == (site_id is None):
        raise ApiProblem(400, 'say what to silence: "mn" (one device) or "site_id" (one site), not both')
    if mn is not None and (not isinstance(mn, str) or not mn.strip()):
        raise ApiProblem(400, '"mn" must be a device\'s MN')
    if site_id is not None and (isinstance(site_id, bool) or not isinstance(site_id, int)):
        raise ApiProblem(400, '"site_id" must be a site\'s id (a number)')
    rule_id = text_field(body, "rule_id")
    note = text_field(body, "note")
    now = ctx.pipeline.now_ms()
    start = _moment_field(body, "from", tz)
    start = now if start is None else start
    until = _moment_field(body, "until", tz)
    if until is None:
        raise ApiProblem(400, '"until" is needed: when the maintenance ends (ISO 8601 or epoch ms)')
    if until <= start:
        raise ApiProblem(400, f'"until" ({iso(until, tz)}) must be after the start ({iso(start, tz)})')
    if until <= now:
        raise ApiProblem(400, f'"until" ({iso(until, tz)}) has passed: a silence must end in the future')

    def work(db: sqlite3.Connection) -> dict[str, Any]:
        if mn is not None:
            found = device_site_in_scope(db, user.scope, mn.strip())
            if found is None:
                raise ApiProblem(404, f"MN {mn.strip()} is not a registered device in your scope",
                                 title="Unknown device")
            site_name = db.execute("SELECT name FROM sites WHERE id = ?", (found,)).fetchone()[0]
        else:
            assert isinstance(site_id, int)
            site = site_in_scope(db, user.scope, site_id)
            if site is None:
                raise ApiProblem(404, f"no site {site_id} in your scope", title="Unknown site")
            site_name = site["name"]
        cur = db.execute(
            "INSERT INTO silences (mn, site_id, rule_id, from_ms, until_ms, reason, actor, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (mn.strip() if mn is not None else "", site_id, rule_id, start, until, note, user.name, now),
        )
        row = {"id": int(cur.lastrowid or 0), "mn": mn.strip() if mn is not None else "", "site_id": site_id,
               "site": site_name, "rule_id": rule_id, "from_ms": start, "until_ms": until, "reason": note,
               "actor": user.name, "created_ms": now}
        item = _silence_item(row, tz)
        audit.record(db, user.name, "silence.create", "silence", row["id"], None, item, "api", at_ms=now)
        return item

    return await write(ctx, work)


@delete("/api/v1/silences/{silence_id:int}", tags=["alarms"], summary="End a silence now", security=BEARER,
        status_code=200)
async def end_silence(silence_id: FromPath[int], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """The maintenance window ends now (one set by mistake, or work finished early): alarms are
    announced again from this moment. Its record stays. Needs handle_alarms; audited."""
    user = require_user(request, ctx, Action.HANDLE_ALARMS)
    if not 0 < silence_id < 2**63:
        raise ApiProblem(404, f"no silence {silence_id} in your scope")
    now = ctx.pipeline.now_ms()
    tz = ctx.settings.tz

    def work(db: sqlite3.Connection) -> dict[str, Any]:
        before = silence_in_scope(db, user.scope, silence_id)
        if before is None:
            raise ApiProblem(404, f"no silence {silence_id} in your scope")
        if before["until_ms"] <= now:
            raise ApiProblem(409, f"silence {silence_id} ended at {iso(before['until_ms'], tz)} already")
        # a window that had not begun yet ends before it begins: it never silenced anything
        start = min(before["from_ms"], now)
        db.execute("UPDATE silences SET from_ms = ?, until_ms = ? WHERE id = ?", (start, now, silence_id))
        after = {**before, "from_ms": start, "until_ms": now}
        audit.record(db, user.name, "silence.end", "silence", silence_id, _silence_item(before, tz),
                     _silence_item(after, tz), "api", at_ms=now)
        return _silence_item(after, tz)

    return await write(ctx, work)

#: every handler of this module, for the app's route list
ALARM_ROUTES = [alarm_list, alarm_show, alarm_attachment, ack_alarm, dispatch_alarm, record_alarm, resolve_alarm,
                close_alarm, comment_alarm, list_silences, add_silence, end_silence]
