"""Who is asking: a bearer API token (``Authorization: Bearer <token>``) or a dashboard session.

A session is a cookie (:data:`SESSION_COOKIE`); a request that changes anything with it must
also carry the session's CSRF token in ``X-CSRF-Token`` (answered by login and by
``GET /api/v1/auth/session``), so that another site cannot make a logged-in browser write.
Bearer requests need no CSRF token: browsers never add that header by themselves.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request

from forewarn.access.roles import Action
from forewarn.access.sessions import TOUCH_EVERY_MS, LiveSession, csrf_for, touch_session, user_for_session
from forewarn.access.users import User, user_for_token
from forewarn.store.sqlite import SqliteStore
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem

__all__ = ["BEARER", "CSRF_HEADER", "SESSION_COOKIE", "bearer_token", "require_user", "session_of"]

#: the OpenAPI security requirement of an endpoint that needs a user: a bearer token or a session
BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
SESSION_COOKIE = "forewarn_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the one change a read-only (screen) session may make: ending itself
_LOGOUT_PATH = "/api/v1/auth/logout"


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The token of an ``Authorization: Bearer`` header; 401 when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "log in (POST /api/v1/auth/login) or send 'Authorization: Bearer <token>' with an API "
                              "token (forewarn users token NAME)")
    return token.strip()


def session_of(request: Request[Any, Any, Any], ctx: ApiContext) -> tuple[LiveSession, str] | None:
    """The live session of the request's session cookie and its token, if there is one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = ctx.pipeline.now_ms()
    found = user_for_session(ctx.store.db, token, now_ms=now, idle_ms=int(ctx.settings.session_idle_s * 1000))
    if found is None:
        return None
    session_id = found.id
    if now - found.last_used_ms >= TOUCH_EVERY_MS:
        ctx.writer.submit_job(lambda store: store.run_in_transaction(lambda db: touch_session(db, session_id, now)))
    return found, token


def require_user(request: Request[Any, Any, Any], ctx: ApiContext, action: Action, *,
                 doing: str | None = None) -> User:
    """The user of the request's token or session, who must be allowed ``action``: else 401 or 403.

    ``doing`` names what the request does when that is not the action's own name (sending
    readings needs ``write_registry``, but "may not write registry" would puzzle whoever sent
    them); the 403 then says what was refused and who may do it.

    The lookup runs on the read connection without writing; noting when the token was last
    used is a job for the writer thread, so that the event loop never waits for the write lock.
    """
    if not request.headers.get("authorization") and SESSION_COOKIE in request.cookies:
        user = _session_user(request, ctx, action)
    else:
        user = _token_user(request, ctx)
    if not user.scope.can(action):
        raise ApiProblem(403, f"user {user.name!r} ({user.role}) may not {doing or action.value.replace('_', ' ')}")
    return user


def _session_user(request: Request[Any, Any, Any], ctx: ApiContext, action: Action) -> User:
    found = session_of(request, ctx)
    if found is None:
        raise ApiProblem(401, "your session has ended (logged out, expired or idle too long): log in again")
    session, token = found
    user = session.user
    if session.read_only and (action is not Action.READ or
                              (request.method not in _SAFE_METHODS and request.url.path != _LOGOUT_PATH)):
        raise ApiProblem(403, "this is a control-room screen's read-only session: log in without 'screen' to change "
                              "anything")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8", "replace"), csrf_for(token).encode()):
            raise ApiProblem(403, "a request that changes something needs the X-CSRF-Token header of your session "
                                  "(from the login answer or GET /api/v1/auth/session)", title="CSRF check failed")
    return user


def _token_user(request: Request[Any, Any, Any], ctx: ApiContext) -> User:
    token = bearer_token(request)
    user = user_for_token(ctx.store.db, token, touch=False)
    if user is None:
        raise ApiProblem(401, "the API token is unknown, revoked, expired, or its user is disabled "
                              "(see forewarn users tokens NAME)")
    now = ctx.pipeline.now_ms()
    if now - ctx.token_noted.get(token, 0) >= 60_000:
        if len(ctx.token_noted) > 10_000:
            ctx.token_noted.clear()
        ctx.token_noted[token] = now
        ctx.writer.submit_job(lambda store: _touch(store, token))
    return user


def _touch(store: SqliteStore, token: str) -> None:
    """Note the token's use in a transaction of the writer's (any store has one; not every store
    has a single connection to write on outside one)."""
    store.run_in_transaction(lambda db: user_for_token(db, token))
