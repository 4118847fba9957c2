"""forewarn as a subscriber of a site's or a carrier's MQTT broker (Mosquitto, EMQX, ...).

QoS 1 and a persistent session (clean session off; in MQTT 5 a session that outlives the
connection by ``mqtt_session_expiry_s``), so the broker keeps what arrives while forewarn is
away and delivers it on reconnection. Each message is acknowledged only once it is stored,
and acknowledgements go out in the order the messages came (MQTT 4.6); a message that could
not be stored is never acknowledged: the subscriber drops the connection, and the broker
delivers it again on the next one. Reconnects back off from 1 s to a minute, with jitter.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from forewarn.protocols.mqtt import packets as p
from forewarn.protocols.mqtt.acks import InOrderAcks
from forewarn.protocols.mqtt.ingest import MessageIngest
from forewarn.protocols.mqtt.layouts import Layout, layout_of, topic_matches
from forewarn.protocols.mqtt.stream import read_packet

__all__ = ["BrokerSettings", "MqttSubscriber", "parse_subscriptions"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None
    client_id: str
    version: int
    subscriptions: tuple[tuple[str, Layout], ...]
    keepalive_s: int = 60
    session_expiry_s: int = 7 * 86400
    ca_file: str = ""

    @classmethod
    def from_url(cls, url: str, *, client_id: str, version: int, subscriptions: str, session_expiry_s: int,
                 ca_file: str = "") -> BrokerSettings:
        """``mqtt://user:password@host:1883`` or ``mqtts://...:8883``; raises ValueError in words."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"mqtt_broker {url!r}: write mqtt://[user:password@]host[:port] or mqtts://... for TLS")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, client_id, version,
                   parse_subscriptions(subscriptions), session_expiry_s=session_expiry_s, ca_file=ca_file)


def parse_subscriptions(text: str) -> tuple[tuple[str, Layout], ...]:
    """``forewarn/+/readings=forewarn, v1/gateway/telemetry=thingsboard_gateway`` -> pairs."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        topic_filter, eq, name = item.rpartition("=")
        if not eq or not topic_filter.strip():
            raise ValueError(f"mqtt_subscriptions {item!r}: write TOPIC_FILTER=LAYOUT")
        layout = layout_of(name.strip())
        if layout.needs_login:
            raise ValueError(f"mqtt_subscriptions {item!r}: the {layout.name} layout names its device by the login, "
                             "which a subscriber cannot see; such devices connect to forewarn's MQTT listener")
        out.append((topic_filter.strip(), layout))
    if not out:
        raise ValueError("mqtt_subscriptions is empty: name at least one TOPIC_FILTER=LAYOUT")
    return tuple(out)


class MqttSubscriber:
    def __init__(self, settings: BrokerSettings, ingest: MessageIngest, *, max_packet_bytes: int = 262_144) -> None:
        self.settings = settings
        self.ingest = ingest
        self.max_packet_bytes = max_packet_bytes
        self.connected = asyncio.Event()
        self.connects = 0
        self.last_error = ""
        self._stopping = False

    async def run(self) -> None:
        """Connect, subscribe, receive; reconnect with backoff until cancelled."""
        delay = 1.0
        while not self._stopping:
            try:
                await self._session()
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except (OSError, asyncio.IncompleteReadError, TimeoutError, p.MqttError, ConnectionError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                if self.connected.is_set():
                    delay = 1.0  # it worked a moment ago: try again soon
                log.warning("MQTT broker %s:%s: %s; reconnecting in %.0f s", self.settings.host, self.settings.port,
                            self.last_error, delay)
            finally:
                self.connected.clear()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 60.0)

    def _context(self) -> ssl.SSLContext | None:
        if not self.settings.tls:
            return None
        context = ssl.create_default_context(cafile=self.settings.ca_file or None)
        return context

    async def _session(self) -> None:
        s = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(s.host, s.port, ssl=self._context(), limit=self.max_packet_bytes + 16), 10)
        peer = f"mqtt-broker:{s.host}:{s.port}"
        try:
            writer.write(p.connect_packet(client_id=s.client_id, version=s.version, keepalive_s=s.keepalive_s,
                                          clean=False, username=s.username, password=s.password,
                                          session_expiry_s=s.session_expiry_s))
            await writer.drain()
            buffer = bytearray()
            kind, _, body = await self._packet(reader, buffer, 10)
            if kind != p.PacketType.CONNACK:
                raise p.MqttError("mqtt_malformed", "the broker's first answer is not CONNACK")
            ack = p.parse_connack(body)
            if not ack.accepted:
                raise ConnectionError(f"the broker refused the connection (code {ack.code}: check mqtt_broker's "
                                      "user and password, and mqtt_client_id)")
            writer.write(p.subscribe_packet(1, [(f, 1) for f, _ in s.subscriptions], s.version))
            await writer.drain()
            self.connects += 1
            self.connected.set()
            log.info("MQTT broker %s:%s: connected (session %s)", s.host, s.port,
                     "resumed" if ack.session_present else "new")
            await self._receive(reader, writer, buffer, peer)
        finally:
            writer.close()

    async def _packet(self, reader: asyncio.StreamReader, buffer: bytearray, timeout: float | None
                      ) -> tuple[int, int, bytes]:
        return await read_packet(reader, buffer, self.max_packet_bytes, timeout, "the broker closed the connection")

    async def _receive(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, buffer: bytearray,
                       peer: str) -> None:
        """Messages are stored as they come (their batches merge in the writer's group commit);
        their acknowledgements leave in arrival order, each once its message is stored."""
        s = self.settings
        acks = InOrderAcks(lambda data: None if writer.is_closing() else writer.write(data))
        acker = asyncio.create_task(acks.run())
        read: asyncio.Future[tuple[int, int, bytes]] | None = None
        try:
            while True:
                read = asyncio.ensure_future(self._packet(reader, buffer, s.keepalive_s * 0.75))
                done, _ = await asyncio.wait({read, acker}, return_when=asyncio.FIRST_COMPLETED)
                if read not in done:
                    raise ConnectionError("a message could not be stored: reconnecting so that the broker sends it "
                                          "again")
                try:
                    kind, flags, body = read.result()
                except TimeoutError:
                    writer.write(p.ping_request())  # quiet for a keep-alive period: show we are here
                    continue
                if kind == p.PacketType.PUBLISH:
                    message = p.parse_publish(flags, body, s.version)
                    ack = (p.puback(message.packet_id) if message.qos == 1 else p.pubrec(message.packet_id)
                           ) if message.packet_id is not None else None
                    await acks.add(self._store(message, peer), ack)
                elif kind == p.PacketType.PUBREL:
                    writer.write(p.pubcomp(p.pubrel_id(body)))
                elif kind == p.PacketType.SUBACK:
                    granted = p.parse_suback(body, s.version)
                    refused = [f for (f, _), code in zip(s.subscriptions, granted.codes, strict=False) if code >= 0x80]
                    if refused:
                        log.error("MQTT broker %s:%s refused the subscription to %s (check the broker's ACL)",
                                  s.host, s.port, ", ".join(refused))
                elif kind == p.PacketType.DISCONNECT:
                    raise ConnectionError("the broker ended the session")
        finally:
            acker.cancel()
            if read is not None:
                read.cancel()
            await asyncio.gather(acker, *([read] if read is not None else []), return_exceptions=True)
            # messages still being stored finish (their data is kept); unacknowledged, they come again
            # and, sent again, change nothing (the first value stored for a point and time is kept)

    async def _store(self, message: p.Publish, peer: str) -> bool:
        layout = next((lay for f, lay in self.settings.subscriptions if topic_matches(f, message.topic)), None)
        if layout is None:
            self.ingest.port.reject("mqtt_unknown_topic", detail=f"{message.topic!r} matches no mqtt_subscriptions "
                                    "entry", peer=peer)
            return True  # refused for good: acknowledged, so that it is not sent for ever
        return await self.ingest.handle(layout, message.topic, message.payload, None, peer)

    def stop(self) -> None:
        self._stopping = True

