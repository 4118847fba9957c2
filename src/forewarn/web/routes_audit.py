"""GET /api/v1/audit: the audit log, every write with who, what, when, before and after."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from forewarn.access.roles import Action
from forewarn.times import iso, parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import check_choice, reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, table_response

__all__ = ["ENTITIES", "audit_log"]

_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "origin", "before", "after")
#: the kinds of entity the platform audits; kinds found in the log itself are taken too, so an
#: entity a newer version writes is never refused
ENTITIES = ("alarm", "api_token", "device", "enterprise", "point", "quarantine", "readings", "region",
            "region_outline", "registry", "rule_file", "session", "silence", "site", "user")


@get("/api/v1/audit", tags=["operations"], summary="The audit log", security=BEARER)
async def audit_log(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    entity: Annotated[str | None, QueryParameter(description="region, enterprise, site, device, point, alarm, "
                                                             "user, api_token, session, registry ...")] = None,
    entity_id: Annotated[str | None, QueryParameter()] = None,
    actor: Annotated[str | None, QueryParameter(description="who made the change")] = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="ISO 8601 or epoch ms")] = None,
    to: Annotated[str | None, QueryParameter(description="ISO 8601 or epoch ms")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Any:
    """Newest first. Secrets (password hashes, tokens) are never in it. For city administrators and
    auditors without a region: the log spans every region."""
    user = require_user(request, ctx, Action.READ_AUDIT)
    reject_unknown_query(request)
    if user.scope.region_prefix is not None:
        raise ApiProblem(403, f"the audit log spans every region and {user.name!r} reads only region "
                              f"{user.region_code}: ask a city administrator or an auditor without a region")
    page = check_page(limit, offset)
    tz = ctx.settings.tz
    where: list[str] = ["1 = 1"]
    params: list[object] = []
    for column, value in (("entity", entity), ("entity_id", entity_id), ("actor", actor)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    for op, text, name in ((">=", from_, "from"), ("<=", to, "to")):
        if text:
            try:
                params.append(parse_moment(text, tz))
            except ValueError as exc:
                raise ApiProblem(400, f"{name}={exc}") from None
            where.append(f"at_ms {op} ?")
    clause = " AND ".join(where)
    def run(db: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
        if entity and entity not in ENTITIES:
            logged = [str(r[0]) for r in db.execute("SELECT DISTINCT entity FROM audit_log")]
            check_choice("entity", entity, sorted({*ENTITIES, *logged}))
        total = int(db.execute(f"SELECT COUNT(*) FROM audit_log WHERE {clause}", params).fetchone()[0])
        rows = db.execute(
            f"SELECT id, at_ms, actor, action, entity, entity_id, origin, before, after FROM audit_log WHERE {clause} "
            "ORDER BY id DESC LIMIT ? OFFSET ?", [*params, *page])
        items = [
            {"id": id_, "at": iso(at, tz), "actor": who, "action": what, "entity": ent, "entity_id": eid,
             "origin": origin, "before": json.loads(before) if before else None,
             "after": json.loads(after) if after else None}
            for id_, at, who, what, ent, eid, origin, before, after in rows
        ]
        return items, total

    # on a reader thread: a count over a log of every change, and its rows' JSON parsed
    items, total = await read(ctx, run)
    return table_response(request, items, total, page, format_, columns=_COLUMNS, name="audit")
