"""Reading whole MQTT packets from a stream: the one I/O step the listener and the subscriber share."""

from __future__ import annotations

import asyncio

from forewarn.protocols.mqtt.packets import split_packet

__all__ = ["read_packet"]


async def read_packet(reader: asyncio.StreamReader, buffer: bytearray, max_bytes: int, timeout: float | None,
                      closed: str = "the peer closed the connection") -> tuple[int, int, bytes]:
    """The next whole packet (type, flags, body), reading into ``buffer`` as needed; TimeoutError
    when nothing completes one within ``timeout``, ConnectionError (``closed``) at the end."""
    while True:
        found = split_packet(buffer, max_bytes)
        if found is not None:
            kind, flags, body, used = found
            del buffer[:used]
            return kind, flags, body
        chunk = await asyncio.wait_for(reader.read(65536), timeout)
        if not chunk:
            raise ConnectionError(closed)
        buffer += chunk
