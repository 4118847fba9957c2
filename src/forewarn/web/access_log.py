"""The HTTP access log: one line per request, in its own file beside the database.

What IT staff read after an incident: when, from where, which request, the answer's status,
how long it took, and how many bytes. Device tokens in paths are replaced by ``<token>``;
query strings are left out (they may carry search terms, never credentials, but they are
long). The file rotates at 10 MB, five files kept. It is a file, not the console: a dashboard
polling every few seconds would drown the platform's own messages.
"""

from __future__ import annotations

import logging
import logging.handlers
import time
from pathlib import Path
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from forewarn.web.problems import redacted

__all__ = ["AccessLog", "access_logger"]

_LOGGER = "forewarn.http.access"


def access_logger(path: Path) -> logging.Logger:
    """The access logger, writing to ``path`` (rotated); only its own handler, not the console."""
    logger = logging.getLogger(_LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=10_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    return logger


class AccessLog:
    """ASGI middleware: logs each HTTP request when its answer has been sent."""

    def __init__(self, app: ASGIApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 0, "bytes": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            elif message["type"] == "http.response.body":
                seen["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            self.logger.info(
                "%s %s %s %d %d %.1fms", client[0] if client else "-", scope.get("method", "-"),
                redacted(scope.get("path", "")), seen["status"], seen["bytes"], (time.perf_counter() - started) * 1000,
            )
