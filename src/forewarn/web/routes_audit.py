"""GET /api/v1/audit: the audit log, every write with who, what, when, before and after."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from forewarn.access.roles import Action
from forewarn.store import audit_reads
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
    moments: dict[str, int | None] = {}
    for text, name in ((from_, "from"), (to, "to")):
        try:
            moments[name] = parse_moment(text, tz) if text else None
        except ValueError as exc:
            raise ApiProblem(400, f"{name}={exc}") from None

    def run(db: sqlite3.Connection) -> tuple[list[dict[str, Any]], int]:
        if entity and entity not in ENTITIES:
            check_choice("entity", entity, sorted({*ENTITIES, *audit_reads.logged_entities(db)}))
        rows, total = audit_reads.audit_page(db, entity=entity, entity_id=entity_id, actor=actor,
                                             from_ms=moments["from"], to_ms=moments["to"], limit=page[0],
                                             offset=page[1])
        items = [{"id": id_, "at": iso(at, tz), "actor": who, "action": what, "entity": ent, "entity_id": eid,
                  "origin": origin, "before": before, "after": after}
                 for id_, at, who, what, ent, eid, origin, before, after in rows]
        return items, total

    # on a reader thread: a count over a log of every change, and its rows' JSON parsed
    items, total = await read(ctx, run)
    return table_response(request, items, total, page, format_, columns=_COLUMNS, name="audit")
