"""Latest values: the newest reading of every point of a site, or of every site of a region.

One row per point (site, device, code, sub-field, what it measures, time, value, flag), so the
same table serves the dashboard's site card, a region's overview and a CSV for Excel. Each
point's newest reading is one index seek (``MAX(ts)`` on the ``(point_id, ts)`` key); a
region's page still takes tens of milliseconds with 10,000 devices, so every query here runs
on a reader thread (:func:`forewarn.web.reads.read`), not on the loop that answers devices.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.model import Kind
from forewarn.store import latest_reads
from forewarn.store.latest_reads import LatestPage
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, table_response

__all__ = ["region_latest", "site_latest"]

_KIND = Annotated[str, QueryParameter(description="rtd (default), minute, hour, day, status or runtime")]


def _kind(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise ApiProblem(400, f"kind={kind!r}: use one of {', '.join(k.value for k in Kind)}") from None


async def _answer(request: Request[Any, Any, Any], ctx: ApiContext, page: tuple[int, int], fmt: str, name: str,
                  query: Callable[[sqlite3.Connection], LatestPage | None], missing: str) -> Any:
    """One page of latest values (404 ``missing`` when out of scope), read in one snapshot on a
    reader thread."""
    found = await read(ctx, query)
    if found is None:
        raise ApiProblem(404, missing)
    columns, items, total = found
    return table_response(request, items, total, page, fmt, columns=columns, name=name)


@get("/api/v1/sites/{site_id:int}/latest", tags=["readings"], summary="A site's latest values", security=BEARER)
async def site_latest(
    site_id: FromPath[int], request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext], kind: _KIND = "rtd",
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Any:
    """The newest reading of each active point of the site. A site outside your scope is 404."""
    user = require_user(request, ctx, Action.READ)
    missing = f"no site {site_id} in your scope"
    if not 0 < site_id < 2**63:
        raise ApiProblem(404, missing)
    page, wanted, tz = check_page(limit, offset), _kind(kind), ctx.settings.tz
    return await _answer(request, ctx, page, format_, f"site-{site_id}-latest",
                         lambda db: latest_reads.site_latest(db, user.scope, site_id, wanted, *page, tz), missing)


@get("/api/v1/regions/{code:str}/latest", tags=["readings"], summary="A region's latest values", security=BEARER)
async def region_latest(
    code: FromPath[str], request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext], kind: _KIND = "rtd",
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Any:
    """The newest reading of each active point of every site in the region and the regions under
    it, as far as your scope reaches (a district administrator asking for the city gets their district)."""
    user = require_user(request, ctx, Action.READ)
    page, wanted, tz = check_page(limit, offset), _kind(kind), ctx.settings.tz
    return await _answer(request, ctx, page, format_, f"region-{code}-latest",
                         lambda db: latest_reads.region_latest(db, user.scope, code, wanted, *page, tz),
                         f"no region {code} with sites in your scope")
