"""GET /api/v1/forwarding: each forwarding target's link, backlog, lag and last error.

The targets are the platform's own (forward.toml), across every region, so only those who see
the whole platform read them: a city administrator, or an auditor without a region.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency

from forewarn.access.roles import Action
from forewarn.forward.service import TargetStatus
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query

__all__ = ["FORWARDING_ROUTES"]


@get("/api/v1/forwarding", tags=["forwarding"], summary="Forwarding targets' status", security=BEARER)
async def forwarding_status(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> list[TargetStatus]:
    """Each target of forward.toml: connected now, readings waiting (backlog) and how far behind
    the oldest is (lag_s), values and frames delivered, the last error and when."""
    user = require_user(request, ctx, Action.READ_AUDIT, doing="see the forwarding targets")
    reject_unknown_query(request)
    if user.scope.region_prefix is not None:
        raise ApiProblem(403, "the forwarding targets span every region: a city administrator or an auditor "
                              "without a region reads them")
    forwarding = ctx.forwarding
    return [] if forwarding is None else await forwarding.status()


FORWARDING_ROUTES = [forwarding_status]
