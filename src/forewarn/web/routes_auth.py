"""Dashboard logins: POST /api/v1/auth/login, POST /api/v1/auth/logout, GET /api/v1/auth/session.

Login sets an HttpOnly, SameSite=Strict session cookie (Secure unless ``cookie_secure = 0``)
and answers the session's CSRF token, which every unsafe request made with the cookie must
echo in ``X-CSRF-Token``. Failed logins are rate-limited per name and per client address.
The password is verified in a worker thread: argon2 takes tens of milliseconds, which the
event loop (shared with every device connection) must not spend.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency

from forewarn.access.errors import PasswordPolicyError
from forewarn.access.passwords import check_policy, dummy_verify, hash_password, verify_password
from forewarn.access.roles import PERMISSIONS, Action, Role
from forewarn.access.sessions import csrf_for, end_session, open_session
from forewarn.access.users import User, get_user, login_secret, set_password_hash
from forewarn.logs import Throttle
from forewarn.times import iso
from forewarn.web.auth import BEARER, SESSION_COOKIE, require_user, session_of
from forewarn.web.body import read_json
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.writes import write

__all__ = ["change_password", "login", "logout", "session_info"]

_LOGIN_BODY_BYTES = 4096
#: failed logins in the log (not the audit log: an attacker could fill the database with them),
#: at most one line a second with the running count
_failures = Throttle(logging.getLogger(__name__))
#: password checks at once from one address (one per name): an office shares its address
_CHECKS_PER_ADDRESS = 4


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client is not None else ""


def _cookie(ctx: ApiContext, value: str, max_age: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=value, max_age=max_age, path="/", httponly=True, samesite="strict",
                  secure=bool(ctx.settings.cookie_secure))


def _user_json(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": str(user.role), "region_code": user.region_code,
            "enterprise_id": user.enterprise_id, "enterprise": user.enterprise}


async def _credentials(ctx: ApiContext, name: str, password: str, address: str) -> User:
    """The enabled user with this name and password; a failure is counted against name and
    address and answered 401. The argon2 check runs on a worker thread, off the event loop."""
    keys = (f"name:{name}", f"address:{address}")
    running = ctx.checks_in_flight
    if running.get(keys[0], 0) >= 1 or running.get(keys[1], 0) >= _CHECKS_PER_ADDRESS:
        raise ApiProblem(429, "a login for this name (or from this address) is being checked: try again in a second",
                         title="Too many attempts", retry_after_s=1)
    for key in keys:
        running[key] = running.get(key, 0) + 1
    try:
        row = login_secret(ctx.store.db, name)
        loop = asyncio.get_running_loop()
        if row is None:
            await loop.run_in_executor(None, dummy_verify, password)
            ok = False
        else:
            ok = await loop.run_in_executor(None, verify_password, row[0], password) and not row[1]
    finally:
        for key in keys:
            running[key] -= 1
            if not running[key]:
                del running[key]
    user = get_user(ctx.store.db, name) if ok else None
    if user is None or user.role is Role.DEVICE:
        ctx.limiter.failure(name, address)
        _failures.warning("login_failed", "failed login for %r from %s", name[:64], address)
        raise ApiProblem(401, "wrong name or password, or the user is disabled")
    return user


def _not_locked(ctx: ApiContext, name: str, address: str) -> None:
    wait = ctx.limiter.retry_after(name, address)
    if wait > 0:
        raise ApiProblem(429, f"too many failed logins: try again in {wait:.0f} s", title="Too many attempts",
                         retry_after_s=round(wait))


@post("/api/v1/auth/login", tags=["auth"], summary="Log in (dashboard session)", status_code=200)
async def login(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> Response[dict[str, Any]]:
    """Body ``{"name": ..., "password": ...}``, and ``"screen": true`` for a control-room screen:
    a read-only session that lasts ``screen_session_ttl_s`` (30 days) and is not ended by being
    idle. Sets the session cookie and answers the user and the ``csrf_token`` to send as
    ``X-CSRF-Token`` with every request that changes something. After 5 failures for a name (20
    for an address) within 5 minutes, logins wait 15 minutes (429)."""
    body = await read_json(request, _LOGIN_BODY_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("password"), str):
        raise ApiProblem(400, 'send {"name": "...", "password": "..."}')
    screen = body.get("screen", False)
    if not isinstance(screen, bool):
        raise ApiProblem(400, "'screen' is true (a control-room screen's read-only session) or false")
    name, password = body["name"].strip(), body["password"]
    address = _address(request)
    _not_locked(ctx, name, address)
    user = await _credentials(ctx, name, password, address)
    ctx.limiter.success(name, address)
    now = ctx.pipeline.now_ms()
    ttl_ms = int((ctx.settings.screen_session_ttl_s if screen else ctx.settings.session_ttl_s) * 1000)
    opened = await write(ctx, lambda db: open_session(db, user, now_ms=now, ttl_ms=ttl_ms, address=address,
                                                      read_only=screen))
    answer = {"user": _user_json(user), "csrf_token": opened.csrf, "expires": iso(opened.expires_ms, ctx.settings.tz),
              "read_only": screen}
    return Response(answer, cookies=[_cookie(ctx, opened.token, ttl_ms // 1000)])


@post("/api/v1/auth/logout", tags=["auth"], summary="Log out", status_code=200, security=BEARER)
async def logout(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> Response[dict[str, Any]]:
    """Ends the session of the cookie (with its CSRF token) and clears the cookie."""
    user = require_user(request, ctx, Action.READ)
    found = session_of(request, ctx)
    if found is None or request.headers.get("authorization"):
        raise ApiProblem(400, "there is no session to end: an API token is revoked with 'forewarn users revoke'")
    session_id = found[0].id
    await write(ctx, lambda db: end_session(db, session_id, user.name))
    return Response({"logged_out": user.name}, cookies=[_cookie(ctx, "", 0)])


@get("/api/v1/auth/session", tags=["auth"], summary="Who am I", security=BEARER, sync_to_thread=False)
def session_info(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """The user of this request (session or token), what the role may do, and for a session its CSRF token."""
    user = require_user(request, ctx, Action.READ)
    found = None if request.headers.get("authorization") else session_of(request, ctx)
    may = {a.value for a in PERMISSIONS[user.role]}
    if user.scope.region_prefix is not None:  # the audit log spans every region (routes_audit)
        may.discard(Action.READ_AUDIT.value)
    return {"user": _user_json(user), "may": sorted(may),
            "csrf_token": csrf_for(found[1]) if found is not None else None,
            "read_only": found is not None and found[0].read_only}


@post("/api/v1/auth/password", tags=["auth"], summary="Change your own password", status_code=200, security=BEARER)
async def change_password(request: Request[Any, Any, Any],
                          ctx: NamedDependency[ApiContext]) -> Response[dict[str, Any]]:
    """Body ``{"current": "...", "new": "..."}`` (the new one at least 10 characters). The current
    password is checked as a login is (and counted as one when wrong). Every API token and session
    of yours ends with it, this one included: log in again with the new password."""
    user = require_user(request, ctx, Action.READ)
    body = await read_json(request, _LOGIN_BODY_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("current"), str) or not isinstance(body.get("new"), str):
        raise ApiProblem(400, 'send {"current": "...", "new": "..."}')
    address = _address(request)
    _not_locked(ctx, user.name, address)
    await _credentials(ctx, user.name, body["current"], address)
    new = body["new"]
    try:
        check_policy(new)
    except PasswordPolicyError as exc:
        raise ApiProblem(400, str(exc)) from None
    hashed = await asyncio.get_running_loop().run_in_executor(None, hash_password, new)
    await write(ctx, lambda db: set_password_hash(db, user.name, hashed, actor=user.name, origin="api"))
    return Response({"changed": user.name, "note": "every token and session of yours has ended: log in again"},
                    cookies=[_cookie(ctx, "", 0)])
