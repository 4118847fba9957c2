"""The HJ 212 TCP server: a thin asyncio shell around the framer and the handler.

One :class:`asyncio.Protocol` per device connection (no stream objects, no per-connection
tasks or timers) keeps an idle connection to about a kilobyte, so one process holds tens of
thousands of devices. Idle connections are closed by one sweeper for all of them. A peer
that sends too much garbage or an endless frame is cut off; no other connection notices.
"""

from __future__ import annotations

import asyncio
import logging
import time

from forewarn.protocols.hj212.framing import FrameTooLarge, RawFrame, StreamFramer
from forewarn.protocols.hj212.handler import Hj212Handler

__all__ = ["Hj212Server"]

log = logging.getLogger(__name__)

#: wait this long for the CRLF of a frame that is otherwise complete before taking it without
_CRLF_GRACE_S = 0.5


class _Connection(asyncio.Protocol):
    __slots__ = (
        "framer", "garbage_at_frame", "garbage_reported", "last_active", "peer", "server",
        "transport", "_grace",
    )

    def __init__(self, server: Hj212Server) -> None:
        self.server = server
        self.framer = StreamFramer(server.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.last_active = time.monotonic()
        self.garbage_reported = 0  # garbage bytes already counted as rejections
        self.garbage_at_frame = 0  # garbage bytes seen before the last good frame
        self._grace: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        addr = transport.get_extra_info("peername")
        self.peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._grace is not None:
            self._grace.cancel()
        for raw in self.framer.flush():
            self._handle(raw)
        self._count_garbage()
        self.transport = None
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        framer = self.framer
        try:
            frames = framer.feed(data)
        except FrameTooLarge as exc:
            self.server.handler.port.reject("frame_too_large", detail=str(exc), peer=self.peer)
            self.garbage_reported = framer.garbage_bytes
            self.close()
            return
        for raw in frames:
            self._handle(raw)
        if frames:
            self.garbage_at_frame = framer.garbage_bytes
        self._count_garbage()
        if framer.garbage_bytes - self.garbage_at_frame > self.server.max_garbage_bytes:
            self.server.handler.port.reject(
                "garbage_connection_closed", peer=self.peer,
                detail=f"{framer.garbage_bytes - self.garbage_at_frame} bytes outside any frame",
            )
            self.close()
            return
        if framer.pending and self._grace is None:
            self._grace = asyncio.get_running_loop().call_later(_CRLF_GRACE_S, self._take_unterminated)

    def _count_garbage(self) -> None:
        """One rejection for the bytes outside frames that arrived since the last count."""
        fresh = self.framer.garbage_bytes - self.garbage_reported
        if fresh > 0:
            self.garbage_reported = self.framer.garbage_bytes
            self.server.handler.port.reject(
                "garbage", detail=f"{fresh} bytes outside any frame", peer=self.peer
            )

    def _handle(self, raw: RawFrame) -> None:
        try:
            self.server.handler.handle(raw, self)
        except Exception:  # a bug must cost one frame, never the connection or the server
            log.exception("internal error handling a frame from %s", self.peer)
            self.server.handler.port.reject("internal_error", detail="see the log", peer=self.peer)

    def _take_unterminated(self) -> None:
        self._grace = None
        for raw in self.framer.flush_unterminated():
            self._handle(raw)
        if self.framer.pending:  # still incomplete: look again later
            self._grace = asyncio.get_running_loop().call_later(_CRLF_GRACE_S, self._take_unterminated)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Hj212Server:
    """Listens for devices; all frames go to one :class:`Hj212Handler`."""

    def __init__(
        self,
        handler: Hj212Handler,
        *,
        idle_timeout_s: float = 600.0,
        max_frame_bytes: int = 8192,
        max_garbage_bytes: int = 4096,
    ) -> None:
        self.handler = handler
        self.idle_timeout_s = idle_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.max_garbage_bytes = max_garbage_bytes
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=4096, reuse_address=True
        )
        self._sweeper = asyncio.create_task(self._sweep_idle())
        log.info("HJ 212 server listening on %s:%d", host, self.port)

    async def _sweep_idle(self) -> None:
        every = max(0.05, min(10.0, self.idle_timeout_s / 4))
        while True:
            await asyncio.sleep(every)
            limit = time.monotonic() - self.idle_timeout_s
            for conn in [c for c in self.connections if c.last_active < limit]:
                log.info("closing idle connection %s", conn.peer)
                conn.close()

    async def close(self, drain_s: float = 5.0) -> None:
        """Stop listening, close every connection and wait until each has handed over the
        frames it still held (so they reach the writer before it closes)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is None:
            return
        self._server.close()
        for conn in list(self.connections):
            conn.close()
        await self._server.wait_closed()
        deadline = time.monotonic() + drain_s
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
