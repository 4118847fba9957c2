"""Small JSON bodies of the handling endpoints: an object with known fields, each checked.

Unlike :func:`forewarn.web.body.read_json`, an empty body is an empty object (a step such as
``ack`` needs nothing), and a field the endpoint does not take is refused by name rather than
ignored: a client that sends ``"by"`` believing it names the actor must learn that it does not.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request

from forewarn.web.body import MAX_BODY_BYTES, parse_json, read_body, require_json
from forewarn.web.problems import ApiProblem

__all__ = ["MAX_TEXT", "read_object", "text_field"]

MAX_TEXT = 4000


async def read_object(request: Request[Any, Any, Any], allowed: tuple[str, ...], limit: int = 64_000,
                      *, advice: str = f"send less (each text at most {MAX_TEXT:,} characters)") -> dict[str, Any]:
    """The JSON object of the body (empty body: ``{}``); 400 naming the fields the endpoint takes;
    413 past ``limit`` bytes with ``advice``."""
    raw = await read_body(request, limit, advice=advice)
    if not raw.strip():
        return {}
    require_json(request)
    # a large body (photos as base64) is parsed off the event loop, which serves every device
    body = parse_json(raw) if len(raw) < MAX_BODY_BYTES else await asyncio.to_thread(parse_json, raw)
    fields = ", ".join(f'"{k}"' for k in allowed) or "nothing"
    if not isinstance(body, dict):
        raise ApiProblem(400, f"send a JSON object with {fields}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        hint = " (the actor is always the logged-in user)" if {"by", "actor"} & set(unknown) else ""
        raise ApiProblem(400, f"unknown field(s) {', '.join(map(repr, unknown))}: send only {fields}{hint}")
    return body


def text_field(body: dict[str, Any], key: str, *, required: str = "", limit: int = MAX_TEXT) -> str:
    """A text field, trimmed; ``required``: the 400's detail when it is missing or blank."""
    value = body.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiProblem(400, f'"{key}" must be text')
    if len(value) > limit:
        raise ApiProblem(400, f'"{key}" is {len(value)} characters: keep it under {limit}')
    if required and not value.strip():
        raise ApiProblem(400, required)
    return value.strip()
