"""Errors as RFC 9457 problem details (``application/problem+json``), with a detail a person can act on."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

__all__ = ["PROBLEM_JSON", "ApiProblem", "problem_handler", "problem_response", "redacted"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class ApiProblem(Exception):
    """Raised by a handler to answer with a problem: status, and a detail saying what to do."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.extra = extra


def problem_response(status: int, detail: str, title: str | None = None, **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(extra.get("retry_after_s"), int):
        headers["Retry-After"] = str(extra["retry_after_s"])
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The one exception handler of the app: our problems, Litestar's HTTP errors, and bugs."""
    if isinstance(exc, ApiProblem):
        return problem_response(exc.status, exc.detail, exc.title, **exc.extra)
    if isinstance(exc, HTTPException):
        status = exc.status_code
        if status == 404:
            detail = f"no such resource: {request.method} {redacted(request.url.path)} (see /api/v1/openapi.json)"
        elif status == 405:
            detail = f"{request.method} is not allowed on {redacted(request.url.path)} (see /api/v1/openapi.json)"
        elif isinstance(exc, ValidationException):
            detail = _validation_detail(request, exc)
        else:
            detail = str(exc.detail)
        return problem_response(status, detail)
    if isinstance(exc, OverflowError):  # a number from the request beyond what SQLite or a date can hold
        log.warning("out of range on %s %s: %s", request.method, redacted(request.url.path), exc)
        return problem_response(400, "a number in the request is out of range (ids and counts fit in 64 bits)")
    log.exception("the HTTP API failed on %s %s", request.method, redacted(request.url.path))
    return problem_response(500, "the server failed on this request; it is logged. Try again later.")


_EXPECTED = (("`bool", "true or false"), ("`int", "a whole number"), ("`float", "a number"),
             ("`str", "text"))


def _validation_detail(request: Request[Any, Any, Any], exc: ValidationException) -> str:
    """Litestar's validation errors in words: which parameter, what it got, what it takes."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        key = str(problem.get("key", "")).rstrip("_")  # our Python names for query words such as open, from
        source = getattr(problem.get("source"), "value", problem.get("source")) or "parameter"
        message = str(problem.get("message", ""))
        wanted = next((words for marker, words in _EXPECTED if message.startswith(f"Expected {marker}")), None)
        bound = message.split("`", 2)[-1].strip() if message.count("`") >= 2 else ""
        said = f"must be {wanted}{' ' + bound if bound and not bound.startswith(',') else ''}" if wanted else message
        got = request.query_params.get(key) if source == "query" else None
        parts.append(f"{source} parameter {key}{'=' + repr(got) if got is not None else ''} {said}")
    return "; ".join(parts) if parts else str(exc.detail)


#: A path segment that looks like a token (ours are 43 URL-safe characters; MNs, codes and
#: SHA-256 digests have other lengths and stay readable)
_TOKEN_LIKE = re.compile(r"(?<=/)[A-Za-z0-9_\-]{43}(?=/|$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def redacted(path: str) -> str:
    """A path fit for a log or an answer: a device token in it is a credential, and a line break
    decoded from %0a would forge a log line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", _TOKEN_LIKE.sub("<token>", path))
