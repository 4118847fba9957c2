"""Uvicorn as a task of the running event loop, beside the HJ 212 server.

The socket is bound here, before uvicorn starts, so that the port is known at once (port 0:
any free port) and a port in use fails :meth:`HttpServer.start` like the HJ 212 server's.
Uvicorn installs no signal handlers: the CLI owns SIGINT and SIGTERM and stops the platform,
which stops this server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar

from forewarn.web.access_log import AccessLog, access_logger
from forewarn.web.http_limits import timed_protocol

__all__ = ["HttpListenError", "HttpServer"]

log = logging.getLogger(__name__)


class HttpListenError(OSError):
    """The HTTP API could not listen on its address (errno and strerror as the OSError's)."""


class _Server(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn before 0.29
        return


class HttpServer:
    """Serves one ASGI app on one address until :meth:`close`."""

    def __init__(
        self, app: Litestar, access_log: Path | None = None, *, request_timeout_s: float = 30.0,
        max_connections: int | None = None,
    ) -> None:
        """``access_log``: a file for one line per request (see :mod:`forewarn.web.access_log`).
        ``request_timeout_s``: to receive a request's headers and body (:mod:`forewarn.web.http_limits`);
        ``max_connections``: connections and requests at once, more are answered 503."""
        self.app = app
        self.request_timeout_s = request_timeout_s
        self.max_connections = max_connections
        self.asgi: Any = app if access_log is None else AccessLog(app, access_logger(access_log))
        self._server: _Server | None = None
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._socket = socket.create_server((host, port), family=family, backlog=2048, reuse_port=False)
        except OSError as exc:
            raise HttpListenError(exc.errno, os.strerror(exc.errno) if exc.errno else str(exc)) from exc
        self._socket.setblocking(False)
        if family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only on sockets created with IPPROTO_TCP; create_server's are
            # protocol 0, so without this every answer after the first on a keep-alive connection
            # waited ~40 ms for the client's delayed ACK (Nagle)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        config = uvicorn.Config(
            self.asgi, lifespan="on", log_config=None, log_level="warning", access_log=False, server_header=False,
            timeout_graceful_shutdown=5, http=timed_protocol(self.request_timeout_s),
            limit_concurrency=self.max_connections,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="forewarn-http")
        while not self._server.started:
            if self._task.done():  # failed during startup: say why
                self._task.result()
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        log.info("HTTP API listening on %s:%d", host, self.port)

    async def close(self) -> None:
        """Stop accepting, finish the requests in flight (at most 5 s), release the socket."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except TimeoutError:
                self._server.force_exit = True
                with contextlib.suppress(Exception):
                    await self._task
            except Exception:
                log.exception("the HTTP server failed")
        if self._socket is not None:
            self._socket.close()
