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
from forewarn.access.scope import region_prefix, scoped
from forewarn.model import Kind
from forewarn.times import iso
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


def _latest_sql(kind: Kind) -> str:
    table = f"readings_{kind.value}"
    return (
        "SELECT s.id AS site_id, s.name AS site, e.name AS enterprise, s.region_code, d.mn, p.id AS point_id, "
        "p.code, p.field, p.name, p.quantity, p.unit, r.ts, r.value, r.flag FROM points p "
        "JOIN devices d ON d.id = p.device_id JOIN sites s ON s.id = d.site_id "
        "JOIN enterprises e ON e.id = s.enterprise_id "
        f"JOIN {table} r ON r.point_id = p.id AND r.ts = (SELECT MAX(ts) FROM {table} WHERE point_id = p.id) "
        "WHERE {scope} AND p.status = 'active' AND d.status = 'active' AND "
    )


async def _rows(request: Request[Any, Any, Any], ctx: ApiContext, sql: str, params: list[object], limit: int,
                offset: int, fmt: str, name: str, known: Callable[[sqlite3.Connection], bool], missing: str) -> Any:
    """One page of latest values, if ``known(db)`` (else 404 ``missing``): all in one snapshot,
    on a reader thread."""
    user = require_user(request, ctx, Action.READ)
    page = check_page(limit, offset)
    query = scoped(sql, user.scope, params)
    tz = ctx.settings.tz

    def run(db: sqlite3.Connection) -> tuple[list[str], list[dict[str, Any]], int] | None:
        if not known(db):
            return None
        total = int(db.execute(f"SELECT COUNT(*) FROM ({query.sql})", query.params).fetchone()[0])
        cur = db.execute(f"{query.sql} ORDER BY s.id, d.mn, p.code, p.field LIMIT ? OFFSET ?",
                         [*query.params, *page])
        columns = [c[0] for c in cur.description]
        items = []
        for row in cur:
            item = dict(zip(columns, row, strict=True))
            item["ts"] = iso(item["ts"], tz)
            items.append(item)
        return columns, items, total

    found = await read(ctx, run)
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
    site = scoped("SELECT 1 FROM sites s WHERE s.id = ? AND {scope}", user.scope, [site_id])

    def known(db: sqlite3.Connection) -> bool:
        return db.execute(*site).fetchone() is not None

    return await _rows(request, ctx, _latest_sql(_kind(kind)) + "s.id = ?", [site_id], limit, offset, format_,
                       f"site-{site_id}-latest", known, missing)


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
    prefix = region_prefix(code)
    region = scoped("SELECT 1 FROM regions r WHERE r.code = ? AND {scope}", user.scope, [code],
                    site_alias="r", over="regions")
    sites = scoped("SELECT 1 FROM sites s WHERE substr(COALESCE(s.region_code, ''), 1, ?) = ? AND {scope} LIMIT 1",
                   user.scope, [len(prefix), prefix])

    def known(db: sqlite3.Connection) -> bool:
        return db.execute(*region).fetchone() is not None or db.execute(*sites).fetchone() is not None

    return await _rows(request, ctx, _latest_sql(_kind(kind)) + "substr(COALESCE(s.region_code, ''), 1, ?) = ?",
                       [len(prefix), prefix], limit, offset, format_, f"region-{code}-latest", known,
                       f"no region {code} with sites in your scope")
