"""GET /api/v1/dashboard/overview and GET /api/v1/regions/outlines: the map's data.

Both are thin: they check the request and run the read (``overview/queries.py``,
``geo/store.py``) on a reader thread, never on the event loop that answers devices (the
overview of 10,000 sites reads 10,000 sites and their devices; the outlines are megabytes).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from forewarn.access.roles import Action
from forewarn.geo.store import outlines_etag, scoped_outlines
from forewarn.overview.queries import OverviewError, OverviewFilter, read_overview
from forewarn.overview.shapes import Overview
from forewarn.site_state import SiteState
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read

__all__ = ["OVERVIEW_ROUTES", "OutlineCollection"]

_Text = Annotated[str | None, QueryParameter()]


class OutlineProperties(msgspec.Struct, frozen=True):
    code: str
    name: str


class OutlineGeometry(msgspec.Struct, frozen=True):
    #: Polygon or MultiPolygon
    type: str
    coordinates: list[Any]


class OutlineFeature(msgspec.Struct, frozen=True):
    type: str
    #: the region's GB/T 2260 code
    id: str
    properties: OutlineProperties
    geometry: OutlineGeometry


class OutlineCollection(msgspec.Struct, frozen=True):
    """A GeoJSON FeatureCollection: one feature per region of yours that has an outline."""

    type: str
    features: list[OutlineFeature]


@get("/api/v1/dashboard/overview", tags=["dashboard"], summary="The overview: map, KPI tiles, newest alarms",
     security=BEARER, responses={200: ResponseSpec(Overview, description="the overview")})
async def overview(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    region: Annotated[str | None, QueryParameter(description="a region code of yours: it and the regions under it")]
    = None,
    site_type: Annotated[str | None, QueryParameter(description="lpg_station, factory, restaurant ...")] = None,
    state_: Annotated[str | None, QueryParameter(name="state", description="only sites in this state",
                                                schema_extra={"enum": [s.value for s in SiteState]})] = None,
) -> Response[bytes]:
    """Every site in your scope (retired ones aside) with its position, type, lifecycle status,
    state (alarm > stopped > maintenance > offline > normal: forewarn.site_state) and devices
    online; the KPI tiles (networking and online rate, unresolved alarms by level, today's
    exceedances, alarms not closed, overdue) and the 20 newest alarms. ``region`` and
    ``site_type`` narrow all of it; ``state`` narrows the list of sites only (the tiles still
    count every state, so a filtered map keeps its context). A value that names nothing is a
    400 that lists the allowed ones."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    flt = OverviewFilter(region=region or None, site_type=site_type or None, state=state_ or None)
    now = ctx.pipeline.now_ms()
    settings = ctx.settings
    try:
        # encoded on the reader thread too: 10,000 sites are megabytes of JSON, 5-15 ms of the loop
        body = await read(ctx, lambda db: msgspec.json.encode(read_overview(
            db, user.scope, flt, now_ms=now, tz=settings.tz, offline_after_intervals=settings.offline_after_intervals,
            catalogue=ctx.store.catalogue, tile_url=settings.map_tile_url)))
    except OverviewError as exc:
        raise ApiProblem(400, str(exc)) from None
    return Response(body, media_type="application/json")


@get("/api/v1/regions/outlines", tags=["dashboard"], summary="Your regions' outlines (GeoJSON)", security=BEARER,
     responses={200: ResponseSpec(OutlineCollection, description="a GeoJSON FeatureCollection",
                                  media_type="application/geo+json")})
async def region_outlines(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """The outlines of your regions (as ``forewarn regions import-geojson`` stored them), for a
    map without a tile server: a district's own region and those under it, an enterprise user's
    the regions of its sites. Answered with an ETag: send it back as If-None-Match and an
    unchanged answer is a 304 without the megabytes."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    etag = outlines_etag(ctx.store.db, user.scope)  # two rows by primary key: cheaper than the hop
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers, media_type="application/geo+json")
    body = await read(ctx, lambda db: scoped_outlines(db, user.scope))
    return Response(body, headers=headers, media_type="application/geo+json")


OVERVIEW_ROUTES = [overview, region_outlines]
