"""GET /api/v1/points/{point_id}/series: one point's readings over a range, downsampled keeping peaks."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.model import Kind
from forewarn.store.point_reads import ScopedPoint, point_in_scope
from forewarn.store.series import series
from forewarn.times import iso, parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem

__all__ = ["point_series"]

DEFAULT_MAX_POINTS = 2000
MAX_POINTS = 10000
_DAY_MS = 86_400_000
_MAX_ID = 2**63 - 1

def _moment(text: str, tz: ZoneInfo, name: str) -> int:
    try:
        return parse_moment(text, tz)
    except ValueError as exc:
        raise ApiProblem(400, f"{name}={exc}") from None


@get("/api/v1/points/{point_id:int}/series", tags=["readings"], summary="A point's readings", security=BEARER)
async def point_series(
    point_id: FromPath[int],
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    from_: Annotated[str | None, QueryParameter(name="from", description="ISO 8601 or epoch ms (default: to - 24 h)")]
    = None,
    to: Annotated[str | None, QueryParameter(description="ISO 8601 or epoch ms (default: now)")] = None,
    kind: Annotated[str, QueryParameter(description="rtd, minute, hour, day, status or runtime",
                                        schema_extra={"enum": [k.value for k in Kind]})] = "rtd",
    max_points: Annotated[int, QueryParameter(description=f"at most this many rows (2 to {MAX_POINTS})",
                                              schema_extra={"minimum": 2, "maximum": MAX_POINTS})]
    = DEFAULT_MAX_POINTS,
) -> dict[str, Any]:
    """``points`` are ``[ts, value, flag]`` with ts in ISO 8601 with the offset of the configured
    time zone. When the range holds more than ``max_points`` readings it is cut into equal time
    buckets and each gives its minimum and maximum reading, so peaks survive. A point outside
    your scope is answered 404, as one that does not exist."""
    user = require_user(request, ctx, Action.READ)
    tz = ctx.settings.tz
    if not 0 < point_id <= _MAX_ID:
        raise ApiProblem(404, f"no point {point_id} in your scope (see the registry's points)", title="Unknown point")
    try:
        kind_ = Kind(kind)
    except ValueError:
        raise ApiProblem(400, f"kind={kind!r}: use one of {', '.join(k.value for k in Kind)}") from None
    if not 2 <= max_points <= MAX_POINTS:
        raise ApiProblem(400, f"max_points={max_points}: use 2 to {MAX_POINTS}")
    to_ms = _moment(to, tz, "to") if to is not None else ctx.pipeline.now_ms()
    from_ms = _moment(from_, tz, "from") if from_ is not None else to_ms - _DAY_MS
    if from_ms > to_ms:
        raise ApiProblem(400, "from is after to: swap them")
    scope = user.scope

    def read(db: sqlite3.Connection) -> tuple[ScopedPoint | None, list[tuple[int, float | None, str]]]:
        point = point_in_scope(db, scope, point_id)
        return point, [] if point is None else series(db, point.id, kind_, from_ms, to_ms, max_points)

    # up to ~100 ms for a year of minutes: off the loop that serves the devices
    point, rows = await ctx.readers.run(read) if ctx.readers is not None else read(ctx.store.db)
    if point is None:
        raise ApiProblem(404, f"no point {point_id} in your scope (see the registry's points)", title="Unknown point")
    return {
        "point": {"id": point.id, "mn": point.mn, "code": point.code, "field": point.field, "name": point.name,
                  "quantity": point.quantity, "unit": point.unit, "site": {"id": point.site_id, "name": point.site}},
        "kind": kind_.value,
        "from": iso(from_ms, tz),
        "to": iso(to_ms, tz),
        "points": [[iso(ts, tz), value, flag] for ts, value, flag in rows],
    }
