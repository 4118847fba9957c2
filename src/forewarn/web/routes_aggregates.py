"""GET /api/v1/stats/mismatches: periods where devices' own minute, hour or day values disagree
with forewarn's (``stats.mismatches``, the same use case as ``forewarn stats mismatches``).

Thin: it checks the request and reads on a reader thread, in the user's scope.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from forewarn.access.roles import Action
from forewarn.model import Period
from forewarn.stats.mismatches import MismatchView, list_mismatches
from forewarn.times import iso, parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read

__all__ = ["AGGREGATE_ROUTES", "Mismatches"]

_PERIODS = [Period.MINUTE.value, Period.HOUR.value, Period.DAY.value]
#: the longest window asked at once (a year of hours of a city is a long read)
_MAX_WINDOW_MS = 366 * 86_400_000


class Mismatches(msgspec.Struct, frozen=True, kw_only=True):
    """The mismatches found (oldest first, at most ``limit``) and the tolerance they are beyond."""

    period: str
    start: str
    end: str
    #: a value is beyond when |reported - computed| > absolute + relative * |reported|
    relative: float
    absolute: float
    limit: int
    items: list[MismatchView]


def _moment(text: str, ctx: ApiContext, name: str) -> int:
    try:
        return parse_moment(text, ctx.settings.tz)  # refuses what no calendar holds (before 1970, after 9999)
    except ValueError as exc:
        raise ApiProblem(400, f"{name}={exc}") from None


@get("/api/v1/stats/mismatches", tags=["statistics"], summary="Device-reported values that differ from forewarn's",
     security=BEARER)
async def stats_mismatches(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    from_: Annotated[str, QueryParameter(name="from", description="start, ISO 8601 (a date: its local midnight)")],
    to: Annotated[str, QueryParameter(description="end, not included")],
    period: Annotated[str, QueryParameter(description="the devices' minute (CN 2051), hour (2061) or day (2031) "
                                                      "data", schema_extra={"enum": _PERIODS})] = "hour",
    site: Annotated[int | None, QueryParameter(description="only this site's devices")] = None,
    limit: Annotated[int, QueryParameter(description="most items (1-10000)")] = 1000,
) -> Mismatches:
    """Each period where a device's own Avg, Min or Max differs from what forewarn computed from
    the same factor's real-time data by more than the tolerance (settings ``mismatch_relative``
    and ``mismatch_absolute``). Only periods both have are compared."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    if period not in _PERIODS:
        raise ApiProblem(400, f"period={period!r}: use one of {', '.join(_PERIODS)}")
    if site is not None and not 0 < site < 2**63:
        raise ApiProblem(400, f"site={site}: a site id")
    if not 1 <= limit <= 10_000:
        raise ApiProblem(400, f"limit={limit}: between 1 and 10000")
    start, end = _moment(from_, ctx, "from"), _moment(to, ctx, "to")
    if end <= start:
        raise ApiProblem(400, "to must be after from (the window is half-open: [from, to))")
    if end - start > _MAX_WINDOW_MS:
        raise ApiProblem(400, "ask at most 366 days at once")
    s = ctx.settings
    items = await read(ctx, lambda db: list_mismatches(
        db, user.scope, s.tz, Period(period), start, end, relative=s.mismatch_relative, absolute=s.mismatch_absolute,
        site_id=site, limit=limit))
    return Mismatches(period=period, start=iso(start, s.tz), end=iso(end, s.tz), relative=s.mismatch_relative,
                      absolute=s.mismatch_absolute, limit=limit, items=items)


AGGREGATE_ROUTES = [stats_mismatches]
