"""forewarn's own MQTT port, for devices and gateways that connect to a platform as they would
to ThingsBoard: the user name is the device's access token (``forewarn devices token MN``),
and each PUBLISH is acknowledged only once what it carries is stored.

Only publishing in is served: a SUBSCRIBE is granted (ThingsBoard's SDK subscribes to its
attribute and RPC topics on connect) but nothing is ever sent on it, and no session is kept
(nothing is queued for a client). Topics: ``v1/devices/me/telemetry`` (the logged-in device),
``v1/gateway/telemetry`` (devices through a gateway, named by MN), ``forewarn/{MN}/readings``
(the logged-in device's own MN) and ``hj212/...`` (HJ 212 frames, checked with the device's
password as on the TCP port); anything else is refused and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from forewarn.logs import Throttle
from forewarn.protocols.mqtt import packets as p
from forewarn.protocols.mqtt.acks import InOrderAcks
from forewarn.protocols.mqtt.ingest import MessageIngest
from forewarn.protocols.mqtt.layouts import LAYOUTS, Layout, topic_matches
from forewarn.protocols.mqtt.stream import read_packet
from forewarn.store.base import DeviceInfo

__all__ = ["MqttListener"]

log = logging.getLogger(__name__)

#: the listener's topics and their layouts, first match wins
ROUTES: tuple[tuple[str, Layout], ...] = (
    ("v1/devices/me/telemetry", LAYOUTS["thingsboard"]),
    ("v1/gateway/telemetry", LAYOUTS["thingsboard_gateway"]),
    ("forewarn/+/readings", LAYOUTS["forewarn"]),
    ("hj212/#", LAYOUTS["hj212"]),
)
_CONNECT_WITHIN_S = 10.0


def route(topic: str) -> Layout | None:
    return next((layout for f, layout in ROUTES if topic_matches(f, topic)), None)


class MqttListener:
    def __init__(self, ingest: MessageIngest, login: Callable[[str], DeviceInfo | None], *,
                 max_packet_bytes: int = 262_144, max_connections: int = 10_000) -> None:
        """``login(token)``: the registered device whose access token this is, else None."""
        self.ingest = ingest
        self.login = login
        self.max_packet_bytes = max_packet_bytes
        self.max_connections = max_connections
        self.connections: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._refusals = Throttle(log)

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, host, port, limit=self.max_packet_bytes + 16)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        address = writer.get_extra_info("peername")
        peer = f"mqtt:{address[0]}:{address[1]}" if isinstance(address, tuple) else "mqtt"
        if len(self.connections) >= self.max_connections:
            writer.close()
            return
        self.connections.add(task)
        try:
            await self._serve(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except p.MqttError as exc:
            self.ingest.port.reject(exc.reason, detail=exc.detail, peer=peer)
        finally:
            self.connections.discard(task)
            writer.close()

    async def _packet(self, reader: asyncio.StreamReader, buffer: bytearray, timeout: float | None
                      ) -> tuple[int, int, bytes]:
        return await read_packet(reader, buffer, self.max_packet_bytes, timeout, "the client closed the connection")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        buffer = bytearray()
        kind, _, body = await self._packet(reader, buffer, _CONNECT_WITHIN_S)
        if kind != p.PacketType.CONNECT:
            raise p.MqttError("mqtt_malformed", "the first packet is not CONNECT")
        try:
            hello = p.parse_connect(body)
        except p.MqttError as exc:
            if exc.reason == "mqtt_unsupported_version":
                writer.write(p.connack(p.MQTT_311, "bad_version"))
            raise
        device = self.login(hello.username or "") if hello.username else None
        if device is None:
            writer.write(p.connack(hello.version, "bad_credentials"))
            await writer.drain()
            self.ingest.port.reject("mqtt_bad_login", detail="unknown access token (the MQTT user name): ask the "
                                    "administrator for the device's token", peer=peer)
            return
        writer.write(p.connack(hello.version, "accepted"))
        # a client silent for 1.5 keep-alive periods is gone (MQTT 3.1.2.10); 0: none asked
        idle = hello.keepalive_s * 1.5 if hello.keepalive_s else None
        acks = InOrderAcks(lambda data: None if writer.is_closing() else writer.write(data))
        acker = asyncio.create_task(acks.run())
        try:
            await self._loop(reader, writer, buffer, hello.version, idle, device, peer, acks, acker)
        finally:
            acker.cancel()
            await asyncio.gather(acker, return_exceptions=True)

    async def _loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, buffer: bytearray,
                    version: int, idle: float | None, device: DeviceInfo, peer: str, acks: InOrderAcks,
                    acker: asyncio.Task[None]) -> None:
        while True:
            read = asyncio.ensure_future(self._packet(reader, buffer, idle))
            done, _ = await asyncio.wait({read, acker}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:  # a message could not be stored: drop the connection, so that it comes again
                read.cancel()
                await asyncio.gather(read, return_exceptions=True)
                return
            kind, flags, body = read.result()
            if kind == p.PacketType.PUBLISH:
                message = p.parse_publish(flags, body, version)
                ack = (p.puback(message.packet_id) if message.qos == 1 else p.pubrec(message.packet_id)
                       ) if message.packet_id is not None else None
                await acks.add(self._publish(message, device, peer), ack)
            elif kind == p.PacketType.PUBREL:
                writer.write(p.pubcomp(p.pubrel_id(body)))
            elif kind == p.PacketType.SUBSCRIBE:
                sub = p.parse_subscribe(body, version)
                writer.write(p.suback(sub.packet_id, [min(q, 1) for _, q in sub.filters], version))
            elif kind == p.PacketType.UNSUBSCRIBE:
                packet_id, count = p.parse_unsubscribe(body, version)
                writer.write(p.unsuback(packet_id, count, version))
            elif kind == p.PacketType.PINGREQ:
                writer.write(p.ping_response())
            elif kind == p.PacketType.DISCONNECT:
                await acks.drain()  # what it sent before saying goodbye is stored
                return
            elif kind in (p.PacketType.PUBACK, p.PacketType.PUBREC, p.PacketType.PUBCOMP):
                continue  # we publish nothing: nothing to do
            else:
                raise p.MqttError("mqtt_malformed", f"packet type {kind} from a client")
            await writer.drain()

    async def _publish(self, message: p.Publish, device: DeviceInfo, peer: str) -> bool:
        """Store one message; True when it may be acknowledged (stored, or refused for good)."""
        layout = route(message.topic)
        if layout is None:
            self.ingest.port.reject("mqtt_unknown_topic", mn=device.mn, peer=peer,
                                    detail=f"{message.topic!r}: publish to v1/devices/me/telemetry, "
                                           "v1/gateway/telemetry, forewarn/{MN}/readings or hj212/...")
            return True  # refused for good: acknowledged, so that it is not sent for ever
        if layout.name == "forewarn" and message.topic.split("/")[1] != device.mn:
            self.ingest.port.reject("mqtt_not_permitted", mn=device.mn, peer=peer,
                                    detail=f"{message.topic!r}: a device publishes under its own MN only")
            return True
        return await self.ingest.handle(layout, message.topic, message.payload, device, peer)
