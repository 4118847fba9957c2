"""A time limit on receiving each HTTP request, which uvicorn does not have.

uvicorn (0.54, h11) offers ``timeout_keep_alive`` (an idle connection *after* a response),
``limit_concurrency`` (503 beyond that many connections or requests) and
``h11_max_incomplete_event_size`` (the size of a request head), but no time limit on a
request still arriving: a client that opens a connection and sends nothing, or a header
line a byte at a time, or announces a body and never sends it, held its connection (an
open file) for as long as it liked. This protocol gives every request ``timeout_s`` from
the moment its connection opened or its previous response ended until its headers and body
have all been received; past that it is answered 408 and the connection closed. A request
fully received may take as long as its answer needs (a live stream stays open).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from forewarn.logs import Throttle

__all__ = ["timed_protocol"]

log = logging.getLogger(__name__)

#: their side of the exchange while a request is still arriving
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


def timed_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``timeout_s`` to receive each request."""
    throttle = Throttle(log, every_s=10.0)

    class TimedH11Protocol(H11Protocol):
        _request_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request on a kept-alive connection has its own time

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._disarm()  # the WebSocket protocol takes over the connection
            super().handle_websocket_upgrade(event)

        def _arm(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self._request_timer = self.loop.call_later(timeout_s, self._timed_out)

        def _disarm(self) -> None:
            if self._request_timer is not None:
                self._request_timer.cancel()
                self._request_timer = None

        def _timed_out(self) -> None:
            self._request_timer = None
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:
                return
            if self.conn.their_state not in _RECEIVING:
                return  # received whole: its answer may take as long as it needs
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
            throttle.warning(
                "http_request_timeout", "closed an HTTP connection from %s: its request was not received "
                "within %g s (http_request_timeout_s)", client, timeout_s,
            )
            if self.cycle is None or self.conn.their_state is h11.IDLE or not self.cycle.response_started:
                body = b"the request was not received in time; send it whole and promptly\n"
                transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
                )
            transport.close()

    return TimedH11Protocol
