"""Reading a request's JSON body with its limits, the same for every endpoint."""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Request

from forewarn.web.problems import ApiProblem

__all__ = ["MAX_BODY_BYTES", "parse_json", "read_body", "read_json", "require_json"]

#: a \uD800-\uDFFF escape: half of a surrogate pair, which JSON allows alone but no text store can keep
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

#: The largest body a request may carry: bigger batches are split by the client, so that no
#: single request holds the event loop (shared with HJ 212) for long.
MAX_BODY_BYTES = 1_000_000


def _too_large(limit: int, advice: str) -> ApiProblem:
    return ApiProblem(413, f"the body is over {limit:,} bytes: {advice}", title="Too large")


#: what a 413 advises unless the endpoint says otherwise
_SEND_LESS = "send less (an ingest request takes at most 10,000 readings; split larger batches)"


async def read_body(request: Request[Any, Any, Any], limit: int = MAX_BODY_BYTES, *, advice: str = _SEND_LESS
                    ) -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes (before reading it when it says its
    length); ``advice``: what the 413 tells the sender to do instead."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > limit:
        raise _too_large(limit, advice)
    body = await request.body()
    if len(body) > limit:
        raise _too_large(limit, advice)
    return body


def require_json(request: Request[Any, Any, Any]) -> None:
    """415 unless the body is said to be JSON (devices that send no content type are read as JSON)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json":
        raise ApiProblem(415, f"send the body as application/json (got {media})", title="Unsupported media type")


async def read_json(request: Request[Any, Any, Any], limit: int = MAX_BODY_BYTES) -> Any:
    """The JSON body: 415 when it says it is something else, 413 when too large, 400 when not JSON."""
    require_json(request)
    return parse_json(await read_body(request, limit))


def parse_json(body: bytes) -> Any:
    """``body`` as JSON; 400 when it is not JSON in UTF-8, or holds text no store can keep."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ApiProblem(400, f"the body is not JSON ({reason}); send application/json in UTF-8") from None
    if _SURROGATE_ESCAPE.search(body):  # rare: only then is the whole value checked
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ApiProblem(400, "the body holds a lone UTF-16 surrogate (\\ud800-\\udfff without its pair): "
                                  "that is no character; send valid Unicode text") from None
    return value
