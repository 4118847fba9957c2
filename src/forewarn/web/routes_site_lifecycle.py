"""A site's lifecycle over HTTP: its status, since when, and every change with its date and reason.

``GET /api/v1/sites/{id}/lifecycle`` for anyone who may see the site; ``POST`` for those who
may change the registry within their region. The use case is
:func:`forewarn.registry.lifecycle.change_site_status`, the same the command line calls.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from forewarn.access.roles import Action
from forewarn.registry.lifecycle import (
    LifecycleError,
    SiteLifecycle,
    SiteStatusBody,
    change_site_status,
    site_lifecycle,
)
from forewarn.times import parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.body import read_json
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.writes import write

__all__ = ["SITE_LIFECYCLE_ROUTES", "change_status", "get_lifecycle"]


def _site_id(site_id: int) -> int:
    if not 0 < site_id < 2**63:
        raise ApiProblem(404, f"no site {site_id} in your scope")
    return site_id


@get("/api/v1/sites/{site_id:int}/lifecycle", tags=["registry"], summary="A site's status and its history",
     security=BEARER, operation_id="get_site_lifecycle")
async def get_lifecycle(site_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> SiteLifecycle:
    """The site's status, since when (the date its latest change took effect), the statuses it
    may move to, and every change newest first with its date, reason, who recorded it and from
    where (api, cli, import). A site outside your scope is 404, as one that does not exist."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    key, tz = _site_id(site_id), ctx.settings.tz
    found = await read(ctx, lambda db: site_lifecycle(db, key, user.scope, tz))
    if found is None:
        raise ApiProblem(404, f"no site {site_id} in your scope")
    return found


@post("/api/v1/sites/{site_id:int}/lifecycle", tags=["registry"], summary="Change a site's status",
      security=BEARER, status_code=200, operation_id="change_site_status")
async def change_status(site_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> SiteLifecycle:
    """Body: ``{"status": "maintenance", "reason": "...", "effective": "2026-11-22"}``. ``status``
    one of new, active, maintenance, stopped, retired, as the lifecycle allows from the current
    one (409 otherwise, naming those allowed); ``reason`` required; ``effective`` (ISO 8601 date
    or time, the devices' zone without an offset; default now) neither in the future nor before
    the site's previous change. A retired site's devices are refused from the answer on. Audited."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)
    reject_unknown_query(request)
    key, tz = _site_id(site_id), ctx.settings.tz
    raw = await read_json(request)
    try:
        body = msgspec.convert(raw, SiteStatusBody)
    except msgspec.ValidationError as exc:
        raise ApiProblem(400, f"{exc}: send {{\"status\": ..., \"reason\": ..., \"effective\": ...}}") from None
    effective = None
    if body.effective:
        try:
            effective = parse_moment(body.effective, tz)
        except ValueError as exc:
            raise ApiProblem(400, f"effective={exc}") from None
    now = int(ctx.pipeline.now_ms())

    def change(db: Any) -> SiteLifecycle:
        return change_site_status(db, key, body.status, reason=body.reason, effective_ms=effective,
                                  scope=user.scope, actor=user.name, origin="api", now_ms=now, tz=tz)

    try:
        answer = await write(ctx, change)
    except LifecycleError as exc:
        raise ApiProblem(exc.status, exc.message) from None
    await ctx.pipeline.reload_registry()  # a retired site's devices are refused now, not at the next poll
    return answer


#: every handler of this module, for the app's route list
SITE_LIFECYCLE_ROUTES = [get_lifecycle, change_status]
