"""The live stream: WebSocket ``/api/v1/live`` and Server-Sent Events ``GET /api/v1/live/sse``.

Both carry the same events (``readings``, ``device``, ``alarm``; see :mod:`forewarn.live.feed`)
filtered twice: by the user's scope, always (``Scope.allows_site``: a district administrator
never receives another district's event, whatever filter they ask for), and by the filter the
client chose (``types``, ``region``, ``site``). The first message is ``subscribed``, echoing
the filter, so a client knows from when on it receives events.

A client that does not keep up is dropped when its queue (1000 events) overflows: the
WebSocket is closed with code 4008 and the reason, the SSE stream ends. It should reconnect
and read the current state from the REST API. Authentication is as for every endpoint: a
bearer token or the dashboard's session cookie (browsers send it with the WebSocket
handshake; a cookie-authenticated handshake from another origin is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from litestar import Request, WebSocket, get, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import QueryParameter
from litestar.response import Stream
from litestar.types import Scope as AsgiScope

from forewarn.access.roles import Action
from forewarn.access.scope import Scope, region_prefix
from forewarn.access.users import User
from forewarn.live.hub import EVENT_TYPES, LiveFilter, LiveHub, Subscription, SubscriptionClosed
from forewarn.web.auth import BEARER, SESSION_COOKIE, require_user
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem

__all__ = ["HEARTBEAT_S", "live_sse", "live_ws"]

#: an SSE comment this often keeps proxies from closing a quiet stream
HEARTBEAT_S = 15.0
#: a stream's user is checked again this often: a revoked token, a disabled user, an ended
#: session or a narrowed scope takes effect on open streams too, not only on new requests
RECHECK_S = 60.0
#: WebSocket close codes: a dropped slow client; the platform stopping; 4000 + HTTP status otherwise
CLOSE_TOO_SLOW = 4008
CLOSE_GOING_AWAY = 1001
_CLOSE_WAIT_S = 2.0


def live_filter(scope: Scope, types: str | None, region: str | None, site: object) -> LiveFilter:
    """The subscriber's filter from its parameters (always within ``scope``); ValueError says
    what is wrong."""
    chosen = EVENT_TYPES
    if types is not None and types.strip():
        chosen = frozenset(t.strip() for t in types.split(",") if t.strip())
        unknown = chosen - EVENT_TYPES
        if unknown:
            raise ValueError(f"types={types!r}: use a comma list of {', '.join(sorted(EVENT_TYPES))}")
    prefix = region_prefix(region) if region is not None and region.strip() else None
    site_id: int | None = None
    if site is not None and site != "":
        try:
            site_id = int(str(site))
        except ValueError:
            raise ValueError(f"site={site!r}: use a site id (a number)") from None
    return LiveFilter(scope, chosen, prefix, site_id)


def _subscribed(user: User, f: LiveFilter) -> str:
    return json.dumps({"type": "subscribed", "user": user.name, "types": sorted(f.types),
                       "region_prefix": f.region_prefix, "site": f.site_id}, ensure_ascii=False)


def _hub(ctx: ApiContext) -> LiveHub:
    if ctx.live is None:
        raise ApiProblem(503, "the live stream does not run in this process", title="Live stream unavailable")
    return ctx.live


# ---------------------------------------------------------------------- SSE


@get("/api/v1/live/sse", tags=["live"], summary="Live events as Server-Sent Events", security=BEARER,
     sync_to_thread=False)
def live_sse(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    types: Annotated[str | None, QueryParameter(description="comma list of readings, device, alarm (default: all)")]
    = None,
    region: Annotated[str | None, QueryParameter(description="a region code: its sites and those under it")] = None,
    site: Annotated[int | None, QueryParameter(description="one site's id")] = None,
) -> Stream:
    """``text/event-stream``: each event's ``event:`` is its type and ``data:`` its JSON; first a
    ``subscribed`` event, then events as they happen, a comment every 15 s when quiet, and a
    ``closed`` event (with the reason) when the stream ends: the client fell more than 1000
    events behind, or the platform stops. Events outside your scope are never sent."""
    hub = _hub(ctx)
    user = require_user(request, ctx, Action.READ)
    try:
        chosen = live_filter(user.scope, types, region, site)
    except ValueError as exc:
        raise ApiProblem(400, str(exc)) from None
    return Stream(_sse(hub, user, chosen, lambda: require_user(request, ctx, Action.READ)),
                  media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _sse(hub: LiveHub, user: User, chosen: LiveFilter, recheck: Callable[[], User]) -> AsyncIterator[str]:
    # subscribed here, when the response is streaming: a client gone before that leaves nothing behind
    sub = hub.subscribe(chosen)
    checked = time.monotonic()
    try:
        yield f"retry: 3000\nevent: subscribed\ndata: {_subscribed(user, chosen)}\n\n"
        while True:
            try:
                if time.monotonic() - checked >= RECHECK_S:
                    checked = time.monotonic()
                    try:
                        _rescope(sub, recheck)
                    except ApiProblem as problem:
                        hub.unsubscribe(sub)
                        raise SubscriptionClosed(problem.detail, False) from None
                event = await sub.next(timeout=min(HEARTBEAT_S, RECHECK_S))
            except SubscriptionClosed as closed:
                end = json.dumps({"type": "closed", "reason": closed.reason, "dropped": closed.dropped},
                                 ensure_ascii=False)
                yield f"event: closed\ndata: {end}\n\n"
                return
            yield ": keep-alive\n\n" if event is None else f"event: {event.type}\ndata: {event.data}\n\n"
    finally:
        hub.unsubscribe(sub)


# ---------------------------------------------------------------------- WebSocket


def _rescope(sub: Subscription, recheck: Callable[[], User]) -> None:
    """Check the stream's user again (ApiProblem when no longer allowed) and apply their
    current scope to the subscription."""
    scope = recheck().scope
    if scope != sub.filter.scope:
        sub.filter = replace(sub.filter, scope=scope)


def _ws_user(socket: WebSocket[Any, Any, Any], ctx: ApiContext) -> User:
    """The handshake's user, by the same rules as any GET (``require_user``)."""
    headers = socket.headers
    if not headers.get("authorization") and SESSION_COOKIE in socket.cookies:
        # a browser sends its cookies with a handshake from any page: only our own pages may use them
        origin = headers.get("origin")
        if origin and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
            raise ApiProblem(403, f"a session may open the live stream only from this site's pages, not {origin}")
    as_request = Request[Any, Any, Any](cast(AsgiScope, {**socket.scope, "type": "http", "method": "GET"}))
    return require_user(as_request, ctx, Action.READ)


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode(errors="ignore") + "..."


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    # a client that reads nothing cannot take a close frame either: do not wait for it forever
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=_reason(reason)), _CLOSE_WAIT_S)


@websocket("/api/v1/live")
async def live_ws(socket: WebSocket[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> None:
    """Query parameters ``types``, ``region``, ``site`` as for SSE; each event is one text
    message (its JSON). Send ``{"subscribe": {"types": ..., "region": ..., "site": ...}}`` to
    change the filter (answered ``subscribed``, or ``error`` and the filter unchanged).
    Refused: closed 4401/4403/4400/4503 after an ``error`` message. Too slow: closed 4008."""
    await socket.accept()
    query = socket.query_params
    try:
        hub = _hub(ctx)
        user = _ws_user(socket, ctx)
        chosen = live_filter(user.scope, query.get("types"), query.get("region"), query.get("site"))
    except ValueError as exc:
        await _refuse(socket, ApiProblem(400, str(exc)))
        return
    except ApiProblem as problem:
        await _refuse(socket, problem)
        return
    sub = hub.subscribe(chosen)
    try:
        await socket.send_text(_subscribed(user, chosen))
        recheck = asyncio.create_task(_recheck(sub, lambda: _ws_user(socket, ctx)))
        tasks = {asyncio.create_task(_send_events(socket, sub)),
                 asyncio.create_task(_commands(socket, sub, user)),
                 asyncio.create_task(sub.wait_closed()), recheck}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        refused = recheck.exception() if recheck.done() and not recheck.cancelled() else None
        if isinstance(refused, ApiProblem):
            await _refuse(socket, refused)
        elif sub.reason is not None:
            await _close(socket, CLOSE_TOO_SLOW if sub.dropped else CLOSE_GOING_AWAY, sub.reason)
    except (WebSocketDisconnect, OSError):
        pass  # the client went away
    finally:
        hub.unsubscribe(sub)


async def _refuse(socket: WebSocket[Any, Any, Any], problem: ApiProblem) -> None:
    with contextlib.suppress(Exception):
        await socket.send_text(json.dumps({"type": "error", "status": problem.status, "title": problem.title,
                                           "detail": problem.detail}, ensure_ascii=False))
    await _close(socket, 4000 + problem.status, problem.detail)


async def _recheck(sub: Subscription, recheck: Callable[[], User]) -> None:
    """Raises ApiProblem when the user may no longer read (the handler then closes 4401/4403)."""
    while True:
        await asyncio.sleep(RECHECK_S)
        _rescope(sub, recheck)


async def _send_events(socket: WebSocket[Any, Any, Any], sub: Subscription) -> None:
    while True:
        event = await sub.next()
        if event is not None:
            await socket.send_text(event.data)


async def _commands(socket: WebSocket[Any, Any, Any], sub: Subscription, user: User) -> None:
    """Read the client's messages until it goes away: ``{"subscribe": {...}}`` changes the filter."""
    while True:
        text = await socket.receive_data(mode="text")
        try:
            message = json.loads(text)
            wanted = message["subscribe"] if isinstance(message, dict) else None
            if not isinstance(wanted, dict):
                raise ValueError('send {"subscribe": {"types": ..., "region": ..., "site": ...}}')
            types, region = wanted.get("types"), wanted.get("region")
            if isinstance(types, list):
                types = ",".join(str(t) for t in types)
            if not isinstance(types, str | None) or not isinstance(region, str | None):
                raise ValueError("types is a comma list (or a list) of event types, region a region code")
            chosen = live_filter(user.scope, types, region, wanted.get("site"))
        except (ValueError, KeyError) as exc:
            detail = str(exc) if isinstance(exc, ValueError) and str(exc) else "not a subscribe message"
            await socket.send_text(json.dumps({"type": "error", "status": 400, "detail": detail}, ensure_ascii=False))
            continue
        sub.filter = chosen
        await socket.send_text(_subscribed(user, chosen))
