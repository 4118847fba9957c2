"""GET /api/v1/stats/figures and GET /api/v1/stats/rankings: the figures regulators are assessed on.

Thin: they check the request and run ``stats.figures`` on a reader thread (a month of a city
reads tens of thousands of aggregate rows), never on the loop that answers devices. Every read
is the user's scope: a district administrator's figures are their district's.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from forewarn.access.roles import Action
from forewarn.stats.figures import (
    FigureRow,
    FiguresError,
    RankedRow,
    check_region,
    figures,
    figures_by,
    parse_window,
    ranking_districts,
    ranking_enterprises,
)
from forewarn.times import iso
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read

__all__ = ["STATS_ROUTES", "Figures", "Rankings"]

_WHEN = QueryParameter(description="the window, local time: 2026-10-05 (a day), 2026-10 (a month) or 2026 (a year)")
_REGION = QueryParameter(description="a region code of yours: its sites and those of the regions under it")
_PERIODS = ["day", "month", "year"]


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """The figures of each entity over each period of the window (docs/statistics.md defines each)."""

    by: str
    region: str | None
    #: the window as asked, and its local start and end (ISO 8601)
    when: str
    start: str
    end: str
    #: the length of each row's period: day, month or year
    period: str
    generated_at: str
    rows: list[FigureRow]


class Rankings(msgspec.Struct, frozen=True, kw_only=True):
    """Districts by effective transmission rate (highest first) and enterprises by exceedances
    (most first), over the window."""

    region: str | None
    when: str
    generated_at: str
    districts: list[RankedRow]
    enterprises: list[RankedRow]


def _window(ctx: ApiContext, when: str, period: str | None) -> tuple[str, int, int]:
    try:
        length, start, end = parse_window(when, ctx.settings.tz)
    except FiguresError as exc:
        raise ApiProblem(400, f"when={when!r}: {exc}") from None
    rows = period or length
    if _PERIODS.index(rows) > _PERIODS.index(length):
        raise ApiProblem(400, f"period={rows!r} is longer than the window {when!r} (a {length}): use "
                              f"{', '.join(_PERIODS[:_PERIODS.index(length) + 1])}")
    return rows, start, end


@get("/api/v1/stats/figures", tags=["statistics"], summary="Figures per site, enterprise or region", security=BEARER)
async def stats_figures(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    when: Annotated[str, _WHEN],
    by: Annotated[str, QueryParameter(description="one row per site, enterprise or region",
                                      schema_extra={"enum": ["site", "enterprise", "region"]})] = "site",
    region: Annotated[str | None, _REGION] = None,
    period: Annotated[str | None, QueryParameter(
        description="each row's period (default: the window's own length); a month's window with period=day "
                    "gives one row per day", schema_extra={"enum": _PERIODS})] = None,
) -> Figures:
    """Transmission, validity and effective transmission rate (assessed against 90 %),
    networking rate, online rate by device count and by time, exceedances (count, duration,
    rate, maximum multiple of the limit), alarm handling (time to acknowledge and to close,
    open, overdue) and facility run rate, for each site, enterprise or region (``by=region``
    with ``region``: one row per region directly under it) and each day, month or year of the
    window. A rate is null when nothing was due. Each figure's formula and a worked example:
    docs/statistics.md."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    if by not in ("site", "enterprise", "region"):
        raise ApiProblem(400, f"by={by!r}: use site, enterprise or region")
    if period is not None and period not in _PERIODS:
        raise ApiProblem(400, f"period={period!r}: use one of {', '.join(_PERIODS)}")
    rows_period, start, end = _window(ctx, when, period)
    now = ctx.pipeline.now_ms()
    settings = ctx.settings
    rules = ctx.rules()
    region = region or None

    def query(db: Any) -> list[FigureRow]:
        check_region(db, user.scope, region)
        return figures(db, user.scope, by=by, region=region, start_ms=start, end_ms=end,  # type: ignore[arg-type]
                       period=rows_period, now_ms=now, settings=settings,  # type: ignore[arg-type]
                       rules=rules, catalogue=ctx.store.catalogue)
    try:
        rows = await read(ctx, query)
    except FiguresError as exc:
        raise ApiProblem(400, str(exc)) from None
    tz = settings.tz
    return Figures(by=by, region=region, when=when, start=iso(start, tz), end=iso(end, tz), period=rows_period,
                   generated_at=iso(now, tz), rows=rows)


@get("/api/v1/stats/rankings", tags=["statistics"], summary="Districts and enterprises ranked", security=BEARER)
async def stats_rankings(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    when: Annotated[str, _WHEN],
    region: Annotated[str | None, _REGION] = None,
) -> Rankings:
    """The regions directly under ``region`` (without it: each site's own region) by effective
    transmission rate, highest first, and the enterprises by exceedance count, most first,
    over the window; equal values share a place, undefined rates come last."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    length, start, end = _window(ctx, when, None)
    now = ctx.pipeline.now_ms()
    settings = ctx.settings
    region = region or None

    def query(db: Any) -> tuple[list[RankedRow], list[RankedRow]]:
        check_region(db, user.scope, region)
        common: dict[str, Any] = {"region": region, "start_ms": start, "end_ms": end, "period": length,
                                  "now_ms": now, "settings": settings}
        rows = figures_by(db, user.scope, bys=("region", "enterprise"), **common)
        return ranking_districts(rows["region"]), ranking_enterprises(rows["enterprise"])
    try:
        districts, enterprises = await read(ctx, query)
    except FiguresError as exc:
        raise ApiProblem(400, str(exc)) from None
    return Rankings(region=region, when=when, generated_at=iso(now, settings.tz), districts=districts,
                    enterprises=enterprises)


STATS_ROUTES = [stats_figures, stats_rankings]
