"""Users over HTTP, for city administrators: list, add, disable and enable, reset a password,
issue, list and revoke API tokens (what ``forewarn users`` does on the command line).

Passwords are checked and hashed on a worker thread (argon2 takes tens of milliseconds) and
the rows written on the writer thread; every change is audited by the functions of
:mod:`forewarn.access.users`, never with a secret.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from forewarn.access.errors import AccessError, PasswordPolicyError
from forewarn.access.passwords import check_policy, hash_password
from forewarn.access.roles import Action
from forewarn.access.users import (
    DEFAULT_TOKEN_DAYS,
    User,
    create_user,
    disable_user,
    enable_user,
    get_user,
    issue_api_token,
    list_api_tokens,
    list_users,
    revoke_api_token,
    set_password_hash,
)
from forewarn.times import iso
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.fields import read_object, text_field
from forewarn.web.problems import ApiProblem
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, table_response
from forewarn.web.writes import write

__all__ = ["USER_ROUTES"]

_COLUMNS = ("name", "role", "region_code", "enterprise_id", "enterprise", "disabled", "created", "password_changed")


def _public(user: User, ctx: ApiContext) -> dict[str, Any]:
    out = user.public()
    out["created"] = iso(out.pop("created_ms"), ctx.settings.tz)
    out["password_changed"] = iso(out.pop("password_changed_ms"), ctx.settings.tz)
    return out


async def _hashed(password: str) -> str:
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        raise ApiProblem(400, str(exc)) from None
    return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


async def _access(ctx: ApiContext, work: Any) -> Any:
    """``work(db)`` on the writer; an :class:`AccessError` (unknown user, taken name ...) is a 400,
    or a 404 when the user does not exist."""
    try:
        return await write(ctx, work)
    except AccessError as exc:
        text = str(exc)
        raise ApiProblem(404 if text.startswith("no user") else 400, text) from None


def _existing(ctx: ApiContext, name: str) -> User:
    user = get_user(ctx.store.db, name)
    if user is None:
        raise ApiProblem(404, f"no user {name!r} (see GET /api/v1/users)")
    return user


@get("/api/v1/users", tags=["users"], summary="Users", security=BEARER, sync_to_thread=False)
def users_list(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext], limit: Limit = DEFAULT_LIMIT,
               offset: Offset = 0, format_: Format = "") -> Any:
    """Every user with role, reach and state (never a password). City administrators only."""
    require_user(request, ctx, Action.MANAGE_USERS)
    page = check_page(limit, offset)
    everyone = [_public(u, ctx) for u in list_users(ctx.store.db)]
    return table_response(request, everyone[offset:offset + limit], len(everyone), page, format_,
                          columns=_COLUMNS, name="users")


@post("/api/v1/users", tags=["users"], summary="Add a user", security=BEARER, status_code=201)
async def user_add(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Body ``{"name", "role", "password", "region_code"?, "enterprise_id"?}``: role is city_admin,
    district_admin (needs region_code), enterprise_user (needs enterprise_id) or auditor (region
    optional); the password at least 10 characters."""
    admin = require_user(request, ctx, Action.MANAGE_USERS)
    body = await read_object(request, ("name", "role", "password", "region_code", "enterprise_id"))
    name = text_field(body, "name", required='"name" is needed', limit=64)
    role = text_field(body, "role", required='"role" is needed: city_admin, district_admin, enterprise_user or auditor')
    region = text_field(body, "region_code", limit=12) or None
    enterprise = body.get("enterprise_id")
    if enterprise is not None and (isinstance(enterprise, bool) or not isinstance(enterprise, int)
                                   or not 0 < enterprise < 2**63):
        raise ApiProblem(400, '"enterprise_id" must be an enterprise\'s id (see GET /api/v1/enterprises)')
    hashed = await _hashed(text_field(body, "password", required='"password" is needed', limit=1024))
    user = await _access(ctx, lambda db: create_user(db, name, "", role, region_code=region, enterprise_id=enterprise,
                                                     actor=admin.name, origin="api", password_hash=hashed))
    return _public(user, ctx)


@post("/api/v1/users/{name:str}/disable", tags=["users"], summary="Disable a user", security=BEARER,
      status_code=200)
async def user_disable(name: FromPath[str], request: Request[Any, Any, Any],
                       ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """No login, no API token, and the user's sessions end. Not yourself."""
    admin = require_user(request, ctx, Action.MANAGE_USERS)
    _existing(ctx, name)
    if name == admin.name:
        raise ApiProblem(400, "you cannot disable yourself: ask another city administrator")
    await _access(ctx, lambda db: disable_user(db, name, actor=admin.name, origin="api"))
    return _public(_existing(ctx, name), ctx)


@post("/api/v1/users/{name:str}/enable", tags=["users"], summary="Enable a user again", security=BEARER,
      status_code=200)
async def user_enable(name: FromPath[str], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Logins and the user's API tokens work again (ended sessions stay ended)."""
    admin = require_user(request, ctx, Action.MANAGE_USERS)
    _existing(ctx, name)
    await _access(ctx, lambda db: enable_user(db, name, actor=admin.name, origin="api"))
    return _public(_existing(ctx, name), ctx)


@post("/api/v1/users/{name:str}/password", tags=["users"], summary="Set a user's password", security=BEARER,
      status_code=200)
async def user_password(name: FromPath[str], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Body ``{"password": "..."}`` (at least 10 characters). The user's API tokens and sessions end."""
    admin = require_user(request, ctx, Action.MANAGE_USERS)
    _existing(ctx, name)
    body = await read_object(request, ("password",))
    hashed = await _hashed(text_field(body, "password", required='"password" is needed', limit=1024))
    user = await _access(ctx, lambda db: set_password_hash(db, name, hashed, actor=admin.name, origin="api"))
    return _public(user, ctx)


@post("/api/v1/users/{name:str}/tokens", tags=["users"], summary="Issue an API token", security=BEARER,
      status_code=201)
async def user_token(name: FromPath[str], request: Request[Any, Any, Any],
                     ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Body ``{"label"?, "days"?}`` (default 365 days; 0: until revoked). The token is in this answer only."""
    admin = require_user(request, ctx, Action.MANAGE_USERS)
    _existing(ctx, name)
    body = await read_object(request, ("label", "days"))
    label = text_field(body, "label", limit=100)
    days = body.get("days", DEFAULT_TOKEN_DAYS)
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 <= days <= 3650:
        raise ApiProblem(400, '"days" must be a number of days from 0 (until revoked) to 3650')
    issued = await _access(ctx, lambda db: issue_api_token(db, name, label, actor=admin.name, origin="api",
                                                           days=days or None))
    return {"id": issued.id, "user": name, "token": issued.token}


@get("/api/v1/users/{name:str}/tokens", tags=["users"], summary="A user's API tokens", security=BEARER,
     sync_to_thread=False)
def user_tokens(name: FromPath[str], request: Request[Any, Any, Any],
                ctx: NamedDependency[ApiContext]) -> list[dict[str, Any]]:
    """Id, label, created, last used, expiry and whether revoked; never the tokens themselves."""
    require_user(request, ctx, Action.MANAGE_USERS)
    _existing(ctx, name)
    tz = ctx.settings.tz
    return [{"id": t.id, "label": t.name, "created": iso(t.created_ms, tz),
             "last_used": iso(t.last_used_ms, tz) if t.last_used_ms else None,
             "expires": iso(t.expires_ms, tz) if t.expires_ms else None, "revoked": t.revoked}
            for t in list_api_tokens(ctx.store.db, name)]


@delete("/api/v1/tokens/{token_id:int}", tags=["users"], summary="Revoke an API token", security=BEARER,
        status_code=200)
async def token_revoke(token_id: FromPath[int], request: Request[Any, Any, Any],
                       ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """The token stops working at once."""
    admin = require_user(request, ctx, Action.MANAGE_USERS)
    if not 0 < token_id < 2**63:
        raise ApiProblem(404, f"no API token {token_id}")
    try:
        done = await write(ctx, lambda db: revoke_api_token(db, token_id, actor=admin.name, origin="api"))
    except AccessError as exc:
        raise ApiProblem(404, str(exc)) from None
    return {"id": token_id, "revoked": True, "already": not done}


USER_ROUTES = [users_list, user_add, user_disable, user_enable, user_password, user_token, user_tokens, token_revoke]
