"""The HJ 212 TCP server: a thin asyncio shell around the framer and the handler.

One :class:`asyncio.Protocol` per device connection (no stream objects, no per-connection
tasks) keeps an idle connection to about two kilobytes, so one process holds tens of
thousands of devices. Idle connections are closed by one sweeper for all of them. Whatever a
peer does, the other connections must not notice, so each connection has budgets:

- **garbage and refused frames**: more than ``max_garbage_bytes`` of bytes outside frames and
  of frames refused (bad CRC, wrong password, unparseable ...) since its last *good* frame
  cuts the connection off; only a good frame resets the count, so a flood of malformed
  frames is cut off like a flood of noise;
- **a frame's time**: a frame not complete ``frame_timeout_s`` after its first byte (a peer
  dribbling a byte every 100 ms) cuts the connection off; a frame complete by its declared
  length whose CRLF has not come is taken after 0.5 s for a device allowed ``no_crlf``, and
  waited for (the CRLF may be late on a cellular link) for any other until that time is up;
- **batches not yet stored**: a connection with ``max_unstored_per_connection`` batches
  waiting for the writer, or sending while the writer's queue holds ``writer_queue_max``,
  stops being read until its own batches are stored (backpressure: the flooder waits, the
  queue stays short, and a good device's batch is in the next commit);
- **connections**: at most ``max_connections`` on the port and ``max_connections_per_peer``
  from one address; beyond them a new connection is closed at once, counted and logged
  (throttled), so idle sockets from one host cannot use up the process's open files.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from forewarn.logs import excerpt
from forewarn.protocols.hj212.framing import FrameTooLarge, RawFrame, StreamFramer
from forewarn.protocols.hj212.handler import Hj212Handler

__all__ = ["Hj212Server"]

log = logging.getLogger(__name__)

#: how often a connection holding part of a frame looks at it again (and the wait before a
#: frame complete by its length is taken without CRLF from a device allowed ``no_crlf``)
_CRLF_GRACE_S = 0.5


class _Connection(asyncio.Protocol):
    __slots__ = (
        "admitted", "cut", "frame_started", "framer", "garbage_at_good", "garbage_reported", "host",
        "last_active", "paused", "peer", "refused_bytes", "server", "transport", "unstored", "_draining",
        "_grace",
    )

    def __init__(self, server: Hj212Server) -> None:
        self.server = server
        self.framer = StreamFramer(server.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.host = "?"
        self.admitted = False
        self.cut = False  # cut off by a budget: what it still holds is not read
        self.last_active = time.monotonic()
        self.frame_started: float | None = None  # when the frame held in the framer began
        self.garbage_reported = 0  # garbage bytes already counted as rejections
        self.garbage_at_good = 0  # garbage bytes seen before the last good frame
        self.refused_bytes = 0  # bytes of frames refused since the last good frame
        self.unstored = 0  # batches handed to the writer, not yet stored
        self.paused = False
        self._draining = False
        self._grace: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        addr = transport.get_extra_info("peername")
        self.peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        self.host = str(addr[0]) if isinstance(addr, tuple) else str(addr)
        server = self.server
        refusal = server.refusal(self.host)
        if refusal is not None:
            server.handler.port.reject("connection_limit", detail=refusal, peer=self.peer)
            transport.abort()
            return
        self.admitted = True
        server.connections.add(self)
        server.per_peer[self.host] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self._grace is not None:
            self._grace.cancel()
        if not self.admitted:
            return
        if not self.cut:  # hand over every frame still held (a paused connection may hold many)
            try:
                while (raw := self.framer.next_frame()) is not None:
                    self._handle(raw)
            except FrameTooLarge:
                pass
            for raw in self.framer.flush():
                self._handle(raw)
        self._count_garbage()
        self.transport = None
        server = self.server
        server.connections.discard(self)
        server.per_peer[self.host] -= 1
        if server.per_peer[self.host] <= 0:
            del server.per_peer[self.host]

    def data_received(self, data: bytes) -> None:
        if self.cut:
            return
        self.framer.push(data)
        self._drain()

    # ------------------------------------------------------------------ frames

    def _drain(self) -> None:
        """Take the frames held, one at a time, until none is whole or reading is paused."""
        if self._draining or self.cut:
            return
        self._draining = True
        try:
            framer = self.framer
            while not self.paused:
                try:
                    raw = framer.next_frame()
                except FrameTooLarge as exc:
                    self.garbage_reported = framer.garbage_bytes
                    self._cut_off("frame_too_large", str(exc))
                    return
                if raw is None:
                    break
                self.frame_started = None
                if not self._take(raw):
                    return
            self._count_garbage()
            if not self._within_budget():
                return
            if framer.pending:
                if self.frame_started is None:
                    self.frame_started = self.last_active = time.monotonic()
                if self._grace is None:
                    self._grace = asyncio.get_running_loop().call_later(_CRLF_GRACE_S, self._look_again)
            else:
                self.frame_started = None
        finally:
            self._draining = False

    def _take(self, raw: RawFrame) -> bool:
        """Handle one frame and keep the budget; False when the connection was cut off."""
        self.last_active = time.monotonic()
        if self._handle(raw):
            self.garbage_at_good = self.framer.garbage_bytes
            self.refused_bytes = 0
        else:
            self.refused_bytes += len(raw.data)
        return self._within_budget()

    def _within_budget(self) -> bool:
        garbage = self.framer.garbage_bytes - self.garbage_at_good
        if garbage + self.refused_bytes <= self.server.max_garbage_bytes:
            return True
        self._count_garbage()
        self._cut_off(
            "garbage_connection_closed",
            f"{garbage} bytes outside frames and {self.refused_bytes} bytes of refused frames since its "
            f"last good frame (max_garbage_bytes={self.server.max_garbage_bytes})",
        )
        return False

    def _look_again(self) -> None:
        """A quiet spell with part of a frame held: take it if it may be taken, or time it out."""
        self._grace = None
        framer = self.framer
        if self.cut or self.transport is None or not framer.pending:
            return
        started = self.frame_started
        if not self.paused and started is not None:
            age = time.monotonic() - started
            timed_out = age >= self.server.frame_timeout_s
            whole = framer.unterminated()
            if whole is not None and (timed_out or self.server.handler.tolerates_no_crlf(whole.data)):
                self._take_held()
            elif timed_out:
                if framer.unterminated(trust_length=False) is not None:  # its length was wrong
                    self._take_held(trust_length=False)
                else:
                    held = framer.pending
                    self._cut_off(
                        "frame_timeout",
                        f"a frame begun {age:.1f} s ago is still incomplete after {held} bytes "
                        f"(frame_timeout_s={self.server.frame_timeout_s:g}): {excerpt(framer.head(60), 60)}",
                    )
                    return
        if framer.pending and not self.cut:
            self._grace = asyncio.get_running_loop().call_later(_CRLF_GRACE_S, self._look_again)

    def _take_held(self, *, trust_length: bool = True) -> None:
        for raw in self.framer.take_unterminated(trust_length=trust_length):
            self.frame_started = None
            self._take(raw)

    def _count_garbage(self) -> None:
        """One rejection for the bytes outside frames that arrived since the last count."""
        fresh = self.framer.garbage_bytes - self.garbage_reported
        if fresh > 0:
            self.garbage_reported = self.framer.garbage_bytes
            self.server.handler.port.reject(
                "garbage", detail=f"{fresh} bytes outside any frame", peer=self.peer
            )

    def _handle(self, raw: RawFrame) -> bool:
        try:
            return self.server.handler.handle(raw, self)
        except Exception:  # a bug must cost one frame, never the connection or the server
            log.exception("internal error handling a frame from %s", self.peer)
            self.server.handler.port.reject("internal_error", detail="see the log", peer=self.peer)
            return False

    def _cut_off(self, reason: str, detail: str) -> None:
        self.server.handler.port.reject(reason, detail=detail, peer=self.peer)
        self.cut = True
        self.framer.discard_all()
        self.close()

    # ------------------------------------------------------------------ backpressure

    def hold(self) -> None:
        self.unstored += 1
        server = self.server
        if not self.paused and (
            self.unstored >= server.max_unstored_per_connection or server.queue_depth() >= server.writer_queue_max
        ):
            self.paused = True
            server.pauses += 1
            if self.transport is not None:
                self.transport.pause_reading()

    def release(self) -> None:
        self.unstored -= 1
        server = self.server
        if self.paused and self.unstored <= server.max_unstored_per_connection // 2 and (
            self.unstored == 0 or server.queue_depth() < server.writer_queue_max
        ):
            self.paused = False
            self.frame_started = None  # the time a frame may take runs from now, not from the pause
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
                asyncio.get_running_loop().call_soon(self._drain)  # the frames it already holds

    # ------------------------------------------------------------------ the handler's Peer

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
        frame_timeout_s: float = 30.0,
        max_connections: int = 0,
        max_connections_per_peer: int = 0,
        max_unstored_per_connection: int = 64,
        writer_queue_max: int = 10000,
        queue_depth: Callable[[], int] = lambda: 0,
    ) -> None:
        """``max_connections`` and ``max_connections_per_peer``: 0 for no limit.
        ``queue_depth``: batches waiting for the writer now (for backpressure)."""
        self.handler = handler
        self.idle_timeout_s = idle_timeout_s
        self.max_frame_bytes = max_frame_bytes
        self.max_garbage_bytes = max_garbage_bytes
        self.frame_timeout_s = frame_timeout_s
        self.max_connections = max_connections
        self.max_connections_per_peer = max_connections_per_peer
        self.max_unstored_per_connection = max_unstored_per_connection
        self.writer_queue_max = writer_queue_max
        self.queue_depth = queue_depth
        self.connections: set[_Connection] = set()
        #: open connections by peer address
        self.per_peer: Counter[str] = Counter()
        #: how many times a connection was paused because its batches were not stored yet
        self.pauses = 0
        #: the port is shared with other processes (SO_REUSEPORT), as start was told
        self.reuse_port = False
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def refusal(self, host: str) -> str | None:
        """Why a new connection from ``host`` is refused, or None when it is let in."""
        open_now = len(self.connections)
        if self.max_connections and open_now >= self.max_connections:
            return (f"{open_now} device connections are open, the most this port takes "
                    f"(max_connections={self.max_connections}; raise it, and the open-file limit, for a larger fleet)")
        from_host = self.per_peer.get(host, 0)
        if self.max_connections_per_peer and from_host >= self.max_connections_per_peer:
            return (f"{from_host} connections are already open from {host} (max_connections_per_peer="
                    f"{self.max_connections_per_peer}; raise it if many devices share this address, e.g. behind "
                    f"a carrier's NAT)")
        return None

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> None:
        """Listen on ``host:port``. ``reuse_port``: bind with SO_REUSEPORT, so several ingest
        processes on one machine listen on the same port and the kernel hands each new
        connection to one of them (a connection stays with the process that accepted it)."""
        loop = asyncio.get_running_loop()
        self.reuse_port = reuse_port
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=4096, reuse_address=True, reuse_port=reuse_port or None
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
