"""MQTT 3.1.1 and 5.0 packets, as far as a platform that receives data needs them. Pure: bytes
in, packets out, and back.

Why our own and not a client library: forewarn is on both ends of MQTT. Devices and gateways
connect to it as they connect to ThingsBoard (its listener), and it subscribes to a site's
broker (its subscriber); on both, a message may be acknowledged only once it is stored. paho
(the usual client) runs its own thread, and ThingsBoard's SDK ships a fork of it under the same
module name; gmqtt acknowledges a 3.1.1 message before its handler runs; aiomqtt offers no
manual acknowledgement. The packets a receiver needs are few and small, so one codec serves
the listener and the subscriber, and an acknowledgement is simply sent when the store says so.

Only what receiving needs is decoded; MQTT 5 properties are skipped except the few named here.
A malformed packet raises :class:`MqttError` with a reason that is counted like HJ 212's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "Connect", "ConnAck", "MqttError", "PacketType", "Publish", "Subscribe", "SubAck", "connack", "connect_packet",
    "parse_connack", "parse_connect", "parse_publish", "parse_suback", "parse_subscribe", "parse_unsubscribe",
    "ping_request", "ping_response", "puback", "pubcomp", "pubrec", "split_packet", "suback", "subscribe_packet",
    "unsuback", "disconnect_packet",
]

MQTT_311 = 4
MQTT_5 = 5
_SESSION_EXPIRY = 0x11  # MQTT 5 property: seconds the broker keeps the session after a disconnect


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class MqttError(ValueError):
    """A packet that cannot be read; ``reason`` is the counted name, the message says what."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------------------- framing


def split_packet(buffer: bytes | bytearray, max_bytes: int) -> tuple[int, int, bytes, int] | None:
    """The first whole packet of ``buffer``: (type, flags, body, bytes used), or None while it
    is incomplete. A packet announcing more than ``max_bytes`` is refused before it arrives."""
    if len(buffer) < 2:
        return None
    length, shift, pos = 0, 0, 1
    while True:
        if pos >= len(buffer):
            return None
        byte = buffer[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            break
        shift += 7
        if shift > 21:
            raise MqttError("mqtt_bad_length", "the remaining length takes more than 4 bytes")
    if length > max_bytes:
        raise MqttError("mqtt_too_large", f"a packet of {length} bytes is over the limit of {max_bytes}")
    end = pos + length
    if len(buffer) < end:
        return None
    first = buffer[0]
    return first >> 4, first & 0x0F, bytes(buffer[pos:end]), end


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: PacketType, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _varint(len(body)) + body


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def _binary(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


class _Reader:
    """Reads the fields of one packet's body, raising MqttError past its end."""

    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise MqttError("mqtt_malformed", f"{self.what} ends too early")

    def byte(self) -> int:
        self._need(1)
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        self._need(2)
        self.pos += 2
        return int.from_bytes(self.data[self.pos - 2:self.pos], "big")

    def binary(self) -> bytes:
        n = self.u16()
        self._need(n)
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def string(self) -> str:
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise MqttError("mqtt_malformed", f"{self.what} holds a string that is not UTF-8") from None

    def varint(self) -> int:
        n, shift = 0, 0
        while True:
            byte = self.byte()
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return n
            shift += 7
            if shift > 21:
                raise MqttError("mqtt_malformed", f"{self.what} has a variable integer over 4 bytes")

    def properties(self) -> bytes:
        n = self.varint()
        self._need(n)
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


# ---------------------------------------------------------------------------- the listener's side


@dataclass(frozen=True, slots=True)
class Connect:
    version: int          # 3 (MQTT 3.1), 4 (3.1.1) or 5
    client_id: str
    clean: bool
    keepalive_s: int
    username: str | None
    password: bytes | None


def parse_connect(body: bytes) -> Connect:
    r = _Reader(body, "CONNECT")
    name = r.string()
    version = r.byte()
    if (name, version) not in {("MQTT", MQTT_311), ("MQTT", MQTT_5), ("MQIsdp", 3)}:
        raise MqttError("mqtt_unsupported_version", f"protocol {name!r} level {version} (MQTT 3.1, 3.1.1 and 5 only)")
    flags = r.byte()
    keepalive = r.u16()
    if version == MQTT_5:
        r.properties()
    client_id = r.string()
    if flags & 0x04:  # a will: skipped (nothing is published by forewarn)
        if version == MQTT_5:
            r.properties()
        r.string()
        r.binary()
    username = r.string() if flags & 0x80 else None
    password = r.binary() if flags & 0x40 else None
    return Connect(version, client_id, bool(flags & 0x02), keepalive, username, password)


#: CONNACK codes by meaning: (MQTT 3.1.1, MQTT 5)
CONNACK_CODES = {
    "accepted": (0, 0x00),
    "bad_version": (1, 0x84),
    "bad_client_id": (2, 0x85),
    "unavailable": (3, 0x88),
    "bad_credentials": (4, 0x86),
    "not_authorized": (5, 0x87),
}


def connack(version: int, outcome: str, session_present: bool = False) -> bytes:
    code = CONNACK_CODES[outcome][1 if version == MQTT_5 else 0]
    body = bytes([1 if session_present and outcome == "accepted" else 0, code])
    if version == MQTT_5:
        # Topic Alias Maximum 0 and no other property: a client may not alias topics to us
        body += b"\x00"
    return _packet(PacketType.CONNACK, 0, body)


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int | None
    retain: bool
    dup: bool


def parse_publish(flags: int, body: bytes, version: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MqttError("mqtt_malformed", "PUBLISH with QoS 3")
    r = _Reader(body, "PUBLISH")
    topic = r.string()
    packet_id = r.u16() if qos else None
    if version == MQTT_5:
        r.properties()
    if not topic:
        raise MqttError("mqtt_malformed", "PUBLISH without a topic (topic aliases are not accepted)")
    return Publish(topic, r.rest(), qos, packet_id, bool(flags & 0x01), bool(flags & 0x08))


def puback(packet_id: int) -> bytes:
    """PUBACK, success (the same two bytes in 3.1.1 and 5: a 5 reason code 0 may be left out)."""
    return _packet(PacketType.PUBACK, 0, struct.pack("!H", packet_id))


def pubrec(packet_id: int) -> bytes:
    return _packet(PacketType.PUBREC, 0, struct.pack("!H", packet_id))


def pubcomp(packet_id: int) -> bytes:
    return _packet(PacketType.PUBCOMP, 0, struct.pack("!H", packet_id))


def packet_id_of(body: bytes, what: str) -> int:
    return _Reader(body, what).u16()


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    filters: tuple[tuple[str, int], ...]  # (topic filter, requested QoS)


def parse_subscribe(body: bytes, version: int) -> Subscribe:
    r = _Reader(body, "SUBSCRIBE")
    packet_id = r.u16()
    if version == MQTT_5:
        r.properties()
    filters = []
    while r.left:
        topic = r.string()
        filters.append((topic, r.byte() & 0x03))
    if not filters:
        raise MqttError("mqtt_malformed", "SUBSCRIBE without a topic filter")
    return Subscribe(packet_id, tuple(filters))


def suback(packet_id: int, granted: list[int], version: int) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if version == MQTT_5 else b"") + bytes(granted)
    return _packet(PacketType.SUBACK, 0, body)


def parse_unsubscribe(body: bytes, version: int) -> tuple[int, int]:
    """(packet id, how many topic filters)."""
    r = _Reader(body, "UNSUBSCRIBE")
    packet_id = r.u16()
    if version == MQTT_5:
        r.properties()
    count = 0
    while r.left:
        r.string()
        count += 1
    return packet_id, count


def unsuback(packet_id: int, count: int, version: int) -> bytes:
    body = struct.pack("!H", packet_id)
    if version == MQTT_5:
        body += b"\x00" + bytes(count)  # no properties; "success" for each filter
    return _packet(PacketType.UNSUBACK, 0, body)


def ping_response() -> bytes:
    return _packet(PacketType.PINGRESP, 0, b"")


# ---------------------------------------------------------------------------- the subscriber's side


def connect_packet(*, client_id: str, version: int, keepalive_s: int, clean: bool, username: str | None,
                   password: str | None, session_expiry_s: int) -> bytes:
    """CONNECT as a subscriber sends it: a persistent session unless ``clean``."""
    flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _string("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive_s)
    if version == MQTT_5:
        props = b"" if clean else bytes([_SESSION_EXPIRY]) + struct.pack("!I", session_expiry_s)
        body += _varint(len(props)) + props
    body += _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _binary(password.encode("utf-8"))
    return _packet(PacketType.CONNECT, 0, body)


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    code: int

    @property
    def accepted(self) -> bool:
        return self.code == 0


def parse_connack(body: bytes) -> ConnAck:
    r = _Reader(body, "CONNACK")
    flags = r.byte()
    return ConnAck(bool(flags & 0x01), r.byte())


def subscribe_packet(packet_id: int, filters: list[tuple[str, int]], version: int) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if version == MQTT_5 else b"")
    for topic, qos in filters:
        body += _string(topic) + bytes([qos])
    return _packet(PacketType.SUBSCRIBE, 0x02, body)


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    codes: tuple[int, ...]


def parse_suback(body: bytes, version: int) -> SubAck:
    r = _Reader(body, "SUBACK")
    packet_id = r.u16()
    if version == MQTT_5:
        r.properties()
    return SubAck(packet_id, tuple(r.rest()))


def ping_request() -> bytes:
    return _packet(PacketType.PINGREQ, 0, b"")


def disconnect_packet() -> bytes:
    return _packet(PacketType.DISCONNECT, 0, b"")


def pubrel_id(body: bytes) -> int:
    return packet_id_of(body, "PUBREL")
