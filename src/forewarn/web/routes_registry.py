"""The registry over HTTP: regions, enterprises, sites, devices and points.

For each: a list (filters, pages, JSON or CSV), one by its key, create (POST), change (PATCH)
and retire (DELETE: the status becomes ``retired``; history stays). Reading needs a reading
role and shows only what is in the user's scope; writing needs ``write_registry`` and a
region in the user's reach. Everything is checked and written by :mod:`forewarn.registry.edit`
on the single writer thread, audited with before and after.

This module does not use ``from __future__ import annotations``: the handlers are built by
:func:`_entity_routes` for each entity, and their path parameter's type (a region's code is
text, every other key a number) is evaluated when the handler is defined.
"""

import sqlite3
from collections.abc import Callable
from typing import Annotated, Any

from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.catalogue import Catalogue
from forewarn.online import is_online
from forewarn.registry.edit import ENTITIES, EditError, Entity, create, get_one, retire, update
from forewarn.store import registry_lists
from forewarn.web.auth import BEARER, require_user
from forewarn.web.body import read_json
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import check_choice, reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, table_response
from forewarn.web.writes import write

__all__ = ["REGISTRY_ROUTES"]

_CATALOGUE = Catalogue()
Text = Annotated[str | None, QueryParameter()]

_PLURAL = {"region": "regions", "enterprise": "enterprises", "site": "sites", "device": "devices", "point": "points"}


def _problem(exc: EditError) -> ApiProblem:
    return ApiProblem(exc.status, exc.message)


def _key(entity: Entity, key: Any) -> Any:
    if entity.key == "code":
        return str(key)
    if not 0 < int(key) < 2**63:
        raise ApiProblem(404, f"no {entity.name} {key} in your scope")
    return int(key)


async def _changed(ctx: ApiContext, change: Callable[[sqlite3.Connection], dict[str, Any]]) -> dict[str, Any]:
    """Make the change on the writer thread, then reload the pipeline's devices at once: a device
    retired a moment ago must not be accepted for the seconds until the next registry poll."""
    result = await write(ctx, change)
    await ctx.pipeline.reload_registry()  # built on a reader thread: the devices are not kept waiting
    return _shown(ctx, result)


def _shown(ctx: ApiContext, found: dict[str, Any]) -> dict[str, Any]:
    """One entity as the API answers it: a device says whether it is online now, as the list does."""
    if "last_seen_ms" in found and "interval_s" in found:
        found["online"] = is_online(found["last_seen_ms"], found["interval_s"], int(ctx.pipeline.now_ms()),
                                    ctx.settings.offline_after_intervals)
    return found


def _entity_routes(entity: Entity, key_type: type) -> list[HTTPRouteHandler]:
    """GET one, POST, PATCH and DELETE (retire) for one entity."""
    base = f"/api/v1/{_PLURAL[entity.name]}"
    item = f"{base}/{{key:{'str' if key_type is str else 'int'}}}"
    tags = ["registry"]
    name = entity.name
    a = "an" if name[0] in "aeiou" else "a"

    @get(item, tags=tags, summary=f"One {name}", security=BEARER, operation_id=f"get_{name}",
         name=f"get_{name}",
         description=f"The {name} as you may see it; one outside your scope is 404, as one that does not exist.")
    async def read_one(key: FromPath[key_type], request: Request[Any, Any, Any],  # type: ignore[valid-type]
                 ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
        user = require_user(request, ctx, Action.READ)
        reject_unknown_query(request)
        k = _key(entity, key)
        found = await read(ctx, lambda db: get_one(db, entity, k, user.scope))  # joins and counts: not on the loop
        if found is None:
            raise ApiProblem(404, f"no {name} {key} in your scope")
        return _shown(ctx, found)

    @post(base, tags=tags, summary=f"Create {a} {name}", security=BEARER, status_code=201,
          operation_id=f"create_{name}", name=f"create_{name}",
          description=f"Body: the {name}'s fields (see the answer of GET). Answers the new {name}. "
                      "Every mistake is listed at once (400); one that exists already is 409.")
    async def create_one(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
        user = require_user(request, ctx, Action.WRITE_REGISTRY)
        body = await read_json(request)
        try:
            return await _changed(ctx, lambda db: create(db, entity, body, user.scope, _CATALOGUE, actor=user.name,
                                                      origin="api"))
        except EditError as exc:
            raise _problem(exc) from None

    @patch(item, tags=tags, summary=f"Change {a} {name}", security=BEARER, operation_id=f"update_{name}",
           name=f"update_{name}",
           description=f"Body: only the fields to change. You must reach the {name} before and after the change.")
    async def update_one(key: FromPath[key_type], request: Request[Any, Any, Any],  # type: ignore[valid-type]
                         ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
        user = require_user(request, ctx, Action.WRITE_REGISTRY)
        k = _key(entity, key)
        body = await read_json(request)
        try:
            return await _changed(ctx, lambda db: update(db, entity, k, body, user.scope, _CATALOGUE, actor=user.name,
                                                      origin="api"))
        except EditError as exc:
            raise _problem(exc) from None

    @delete(item, tags=tags, summary=f"Retire {a} {name} (its history stays)", security=BEARER, status_code=200,
            operation_id=f"retire_{name}", name=f"retire_{name}",
            description=f"The {name}'s status becomes retired; its readings, alarms and audit history stay.")
    async def retire_one(key: FromPath[key_type], request: Request[Any, Any, Any],  # type: ignore[valid-type]
                         ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
        user = require_user(request, ctx, Action.WRITE_REGISTRY)
        k = _key(entity, key)
        try:
            return await _changed(ctx, lambda db: retire(db, entity, k, user.scope, _CATALOGUE, actor=user.name,
                                                      origin="api"))
        except EditError as exc:
            raise _problem(exc) from None

    return [read_one, create_one, update_one, retire_one]


# ------------------------------------------------------------------ lists


async def _listed(request: Request[Any, Any, Any], ctx: ApiContext, limit: int, offset: int, fmt: str, name: str,
                  query: Callable[[sqlite3.Connection, int, int], registry_lists.Page]) -> Any:
    """One page of a registry list, read on a reader thread and answered as JSON or CSV."""
    page = check_page(limit, offset)
    found = await read(ctx, lambda db: query(db, *page))
    return table_response(request, found.items, found.total, page, fmt, columns=found.columns, name=name)


def _status(entity: str, value: str | None) -> str | None:
    """The ``status`` filter, one of the entity's statuses (400 naming them otherwise)."""
    return check_choice("status", value, ENTITIES[entity].statuses)


def _moment(ctx: ApiContext) -> registry_lists.Moment:
    """Now, for the one definition of online (:mod:`forewarn.online`)."""
    return registry_lists.Moment(ctx.pipeline.now_ms(), ctx.settings.offline_after_intervals)


Online = Annotated[bool | None, QueryParameter(description="true: only those online now; false: only those not")]


@get("/api/v1/regions", tags=["registry"], summary="Regions", security=BEARER)
async def list_regions(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext], parent: Text = None,
                       status: Text = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
                       format_: Format = "") -> Any:
    """Regions (GB/T 2260 codes) in your scope: a district sees its own and those under it."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    wanted = registry_lists.RegionFilter(parent, _status("region", status))
    return await _listed(request, ctx, limit, offset, format_, "regions",
                         lambda db, n, skip: registry_lists.list_regions(db, user.scope, wanted, n, skip))


@get("/api/v1/enterprises", tags=["registry"], summary="Enterprises", security=BEARER)
async def list_enterprises(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext], region: Text = None,
                           status: Text = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
                           format_: Format = "") -> Any:
    """Enterprises registered in your region or with a site in it; an enterprise user sees their own.
    ``sites`` counts the enterprise's sites that you may see."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    wanted = registry_lists.EnterpriseFilter(region, _status("enterprise", status))
    return await _listed(request, ctx, limit, offset, format_, "enterprises",
                         lambda db, n, skip: registry_lists.list_enterprises(db, user.scope, wanted, n, skip))


@get("/api/v1/sites", tags=["registry"], summary="Sites", security=BEARER)
async def list_sites(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext], region: Text = None,
                     enterprise_id: Annotated[int | None, QueryParameter()] = None, site_type: Text = None,
                     status: Text = None, online: Online = None, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
                     format_: Format = "") -> Any:
    """Sites in your scope with their position (for the map), type, enterprise, region, status (its
    lifecycle: new, active, maintenance, stopped, retired) and whether any of its devices is online."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    kind = None
    if site_type:
        kind = _CATALOGUE.site_type_id(site_type)
        if kind is None:
            check_choice("site_type", site_type, _CATALOGUE.site_types)
    wanted = registry_lists.SiteFilter(region, enterprise_id, kind, _status("site", status), online)
    at = _moment(ctx)
    return await _listed(request, ctx, limit, offset, format_, "sites",
                         lambda db, n, skip: registry_lists.list_sites(db, user.scope, wanted, at, n, skip))


@get("/api/v1/devices", tags=["registry"], summary="Devices", security=BEARER)
async def list_devices(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
                       site_id: Annotated[int | None, QueryParameter()] = None, region: Text = None,
                       mn: Text = None, status: Text = None, online: Online = None, limit: Limit = DEFAULT_LIMIT,
                       offset: Offset = 0, format_: Format = "") -> Any:
    """Devices in your scope, with when each was last heard and whether it is online now.

    ``quirks_tolerated`` says which known HJ 212 deviations were accepted from each device and how
    often (``crc_lowercase=12|qn_format=3``, most used first; empty when none): the tolerant
    default accepts them, and a deployer may want to tell the vendor, or make the device strict.
    """
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    wanted = registry_lists.DeviceFilter(site_id, region, mn, _status("device", status), online)
    at = _moment(ctx)
    return await _listed(request, ctx, limit, offset, format_, "devices",
                         lambda db, n, skip: registry_lists.list_devices(db, user.scope, wanted, at, n, skip))


@get("/api/v1/points", tags=["registry"], summary="Points", security=BEARER)
async def list_points(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
                      device_id: Annotated[int | None, QueryParameter()] = None,
                      site_id: Annotated[int | None, QueryParameter()] = None, mn: Text = None,
                      discovered: Annotated[bool | None, QueryParameter()] = None, status: Text = None,
                      limit: Limit = DEFAULT_LIMIT, offset: Offset = 0, format_: Format = "") -> Any:
    """Points (what a device's code and sub-field measure) in your scope; ``discovered``: created from data."""
    user = require_user(request, ctx, Action.READ)
    reject_unknown_query(request)
    wanted = registry_lists.PointFilter(device_id, site_id, mn, discovered, _status("point", status))
    return await _listed(request, ctx, limit, offset, format_, "points",
                         lambda db, n, skip: registry_lists.list_points(db, user.scope, wanted, n, skip))


REGISTRY_ROUTES: list[Callable[..., Any] | HTTPRouteHandler] = [
    list_regions, list_enterprises, list_sites, list_devices, list_points,
    *_entity_routes(ENTITIES["region"], str),
    *_entity_routes(ENTITIES["enterprise"], int),
    *_entity_routes(ENTITIES["site"], int),
    *_entity_routes(ENTITIES["device"], int),
    *_entity_routes(ENTITIES["point"], int),
]
