"""GET /api/v1/sites/{site_id}/detail and GET /api/v1/playback: a site's page and its playback.

Both are thin: they parse the request, bound it, and run the use case (``sites/detail.py``,
``sites/playback.py``) on a reader thread, never on the event loop that answers devices (a
day's playback reads 43,200 readings). A site or alarm outside the user's scope is 404, as one
that does not exist.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.sites.detail import site_detail
from forewarn.sites.playback import DAY_MS, MAX_WINDOW_MS, PlaybackError, Window, playback, window_for_alarm
from forewarn.sites.shapes import Playback, SiteDetail
from forewarn.sites.view import SiteView
from forewarn.times import parse_moment
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read

__all__ = ["SITE_ROUTES"]

_MAX_ID = 2**63 - 1
_Moment = Annotated[str | None, QueryParameter(description="ISO 8601 or epoch ms")]


def _view(ctx: ApiContext) -> SiteView:
    return SiteView(ctx.settings.tz, ctx.settings.offline_after_intervals, ctx.store.catalogue, ctx.rules)


def _moment(ctx: ApiContext, text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_moment(text, ctx.settings.tz)
    except ValueError as exc:
        raise ApiProblem(400, f"{name}={exc}") from None


def _no_site(site_id: int) -> ApiProblem:
    return ApiProblem(404, f"no site {site_id} in your scope (see GET /api/v1/sites)", title="Unknown site")


@get("/api/v1/sites/{site_id:int}/detail", tags=["sites"], summary="A site's page", security=BEARER)
async def get_site_detail(
    site_id: FromPath[int], request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    from_: Annotated[str | None, QueryParameter(name="from", description="the equipment timeline's start, "
                                                "ISO 8601 or epoch ms (default: to - 24 h)")] = None,
    to: Annotated[str | None, QueryParameter(description="the equipment timeline's end (default: now)")] = None,
) -> SiteDetail:
    """The site (enterprise, type, region, status, position), its devices (MN, protocol, last
    contact, online), the newest value of each point with its unit, the limits the rules in
    force judge it by and its state against them (normal, over_limit ...), its equipment (fan,
    purifier, production, treatment: as its composite rules define them) with ON/OFF bands over
    the window (at most 31 days), and its newest alarms."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    if not 0 < site_id <= _MAX_ID:
        raise _no_site(site_id)
    now = ctx.pipeline.now_ms()
    given_to = _moment(ctx, to, "to")
    hi = now if given_to is None else given_to
    lo = _moment(ctx, from_, "from")
    lo = hi - DAY_MS if lo is None else lo
    if lo >= hi:
        raise ApiProblem(400, "from must be before to: swap them")
    if hi - lo > MAX_WINDOW_MS:
        raise ApiProblem(400, f"the equipment timeline covers at most {MAX_WINDOW_MS // DAY_MS} days: shorten it")
    view = _view(ctx)
    found = await read(ctx, lambda db: site_detail(db, user.scope, site_id, now, lo, hi, view))
    if found is None:
        raise _no_site(site_id)
    return found


@get("/api/v1/playback", tags=["sites"], summary="A site's playback over a window", security=BEARER,
     responses={200: ResponseSpec(Playback, description="the site's playback")})
async def get_playback(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    site: Annotated[int | None, QueryParameter(description="the site to play (or give alarm)")] = None,
    alarm: Annotated[int | None, QueryParameter(description="an alarm: its site, and a window around its "
                                                "episode unless from/to are given")] = None,
    from_: Annotated[str | None, QueryParameter(name="from", description="ISO 8601 or epoch ms")] = None,
    to: _Moment = None,
) -> Response[bytes]:
    """Everything needed to show the site's state at any instant of the window, in one answer:
    each point's readings (one-minute resolution, raw when sparser; denser data keeps each
    minute's minimum and maximum, so peaks survive), the equipment's ON/OFF bands, each
    device's online intervals, and the site's alarms with every step (raised, escalated,
    cleared, handling). At most 31 days; by site, give from and to (default: the last 24 h);
    by alarm, the window runs from an hour before it was decided to half an hour after it cleared."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    now = ctx.pipeline.now_ms()
    lo, hi = _moment(ctx, from_, "from"), _moment(ctx, to, "to")
    view = _view(ctx)
    if alarm is not None:
        alarm_id = alarm
        if not 0 < alarm_id <= _MAX_ID:
            raise ApiProblem(404, f"no alarm {alarm_id} in your scope", title="Unknown alarm")
        window = await read(ctx, lambda db: window_for_alarm(db, user.scope, alarm_id, now, lo, hi))
        if window is None:
            raise ApiProblem(404, f"no alarm {alarm_id} of a site in your scope (see GET /api/v1/alarms)",
                             title="Unknown alarm")
        if site is not None and site != window.site_id:
            raise ApiProblem(400, f"alarm {alarm_id} is not of site {site}: give one of them")
    elif site is not None:
        hi = now if hi is None else hi
        lo = hi - DAY_MS if lo is None else lo
        window = Window(site, lo, hi, lo)
        if not 0 < site <= _MAX_ID:
            raise _no_site(site)
    else:
        raise ApiProblem(400, "say what to play: site=ID (with from and to) or alarm=ID")
    chosen = window

    def played(db: sqlite3.Connection) -> bytes | None:
        # encoded on the reader thread: a day of a 30-point site is a megabyte of JSON
        found = playback(db, user.scope, chosen, now, view)
        return None if found is None else msgspec.json.encode(found)

    try:
        body = await read(ctx, played)
    except PlaybackError as exc:
        raise ApiProblem(400, str(exc)) from None
    if body is None:
        raise _no_site(chosen.site_id)
    return Response(body, media_type="application/json")


SITE_ROUTES = [get_site_detail, get_playback]
