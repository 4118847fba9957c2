"""Acknowledgements in arrival order, each sent once its message is stored.

Messages are stored as they come, so that a client sending many at once has them merged into
the writer's group commit instead of waiting one commit each; but MQTT wants the PUBACKs in
the order the PUBLISHes came (MQTT 3.1.1 section 4.6), and forewarn wants each sent only once
its message is stored. So each message's storing task is queued with its acknowledgement, and
the queue's head is acknowledged as soon as it is stored. A message that could not be stored
stops the queue: nothing after it is acknowledged, and the adapter drops the connection so that
it comes again (resent, a message changes nothing already stored).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["InOrderAcks"]


class InOrderAcks:
    def __init__(self, send: Callable[[bytes], None], max_pending: int = 256) -> None:
        self._send = send
        self._queue: deque[tuple[asyncio.Future[bool], bytes | None]] = deque()
        self._wake = asyncio.Event()
        self.failed = asyncio.Event()
        self.max_pending = max_pending
        self._room = asyncio.Event()
        self._room.set()

    async def add(self, stored: Awaitable[bool], ack: bytes | None) -> None:
        """Queue a message being stored; waits while ``max_pending`` are (backpressure)."""
        await self._room.wait()
        self._queue.append((asyncio.ensure_future(stored), ack))
        if len(self._queue) >= self.max_pending:
            self._room.clear()
        self._wake.set()

    async def run(self) -> None:
        """Send acknowledgements as their messages are stored, in order, until one fails."""
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            stored, ack = self._queue[0]
            if not await stored:
                self.failed.set()
                return
            self._queue.popleft()
            self._room.set()
            if ack is not None:
                self._send(ack)

    async def drain(self) -> None:
        """Wait for what is queued to be stored (a clean DISCONNECT: everything sent is kept)."""
        if self._queue:
            await asyncio.gather(*(f for f, _ in self._queue), return_exceptions=True)
