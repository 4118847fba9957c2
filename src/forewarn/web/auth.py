"""Bearer API tokens (``Authorization: Bearer <token>``) to the user they belong to."""

from __future__ import annotations

from typing import Any

from litestar import Request

from forewarn.access.roles import Action
from forewarn.access.users import User, user_for_token
from forewarn.store.sqlite import SqliteStore
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem

__all__ = ["BEARER", "bearer_token", "require_user"]

#: the OpenAPI security requirement of an endpoint that needs a bearer token
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def bearer_token(request: Request[Any, Any, Any]) -> str:
    """The token of an ``Authorization: Bearer`` header; 401 when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(401, "send 'Authorization: Bearer <token>' with an API token (forewarn users token ...)")
    return token.strip()


def require_user(request: Request[Any, Any, Any], ctx: ApiContext, action: Action) -> User:
    """The user of the request's token, who must be allowed ``action``: else 401 or 403.

    The lookup runs on the read connection without writing; noting when the token was last
    used is a job for the writer thread, so that the event loop never waits for the write lock.
    """
    token = bearer_token(request)
    user = user_for_token(ctx.store.db, token, touch=False)
    if user is None:
        raise ApiProblem(401, "the API token is unknown, revoked, or its user is disabled")
    now = ctx.pipeline.now_ms()
    if now - ctx.token_noted.get(token, 0) >= 60_000:
        if len(ctx.token_noted) > 10_000:
            ctx.token_noted.clear()
        ctx.token_noted[token] = now
        ctx.writer.submit_job(lambda store: _touch(store, token))
    if not user.scope.can(action):
        raise ApiProblem(403, f"user {user.name!r} ({user.role}) may not {action.value.replace('_', ' ')}")
    return user


def _touch(store: SqliteStore, token: str) -> None:
    user_for_token(store.db, token)
