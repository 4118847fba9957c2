"""The MQTT codec: what the listener and the subscriber read and write, byte for byte."""

from __future__ import annotations

import pytest

from forewarn.protocols.http.telemetry import PayloadError
from forewarn.protocols.mqtt import packets as p
from forewarn.protocols.mqtt.layouts import LAYOUTS, decode, topic_matches


def _publish(topic: str, payload: bytes, qos: int, packet_id: int, version: int) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic.encode() + (packet_id.to_bytes(2, "big") if qos else b"")
    if version == p.MQTT_5:
        body += b"\x02\x01\x01"  # two bytes of properties: payload format indicator = 1 (skipped)
    body += payload
    return bytes([0x30 | qos << 1]) + p._varint(len(body)) + body


@pytest.mark.parametrize("version", [p.MQTT_311, p.MQTT_5])
def test_a_publish_is_read_after_its_properties_and_acknowledged_in_two_bytes(version: int) -> None:
    raw = _publish("v1/gateway/telemetry", b'{"x": 1}', 1, 0x1234, version)
    kind, flags, body, used = p.split_packet(raw + b"\xc0", 1024) or (0, 0, b"", 0)
    assert kind == p.PacketType.PUBLISH and used == len(raw)
    message = p.parse_publish(flags, body, version)
    assert (message.topic, message.payload, message.qos, message.packet_id) == (
        "v1/gateway/telemetry", b'{"x": 1}', 1, 0x1234)
    assert p.puback(0x1234) == b"\x40\x02\x12\x34"


def test_packets_are_whole_before_they_are_read_and_too_large_ones_refused_early() -> None:
    raw = _publish("t", b"x" * 300, 0, 0, p.MQTT_311)  # a two-byte remaining length
    assert p.split_packet(raw[:-1], 1024) is None
    assert p.split_packet(raw[:2], 1024) is None  # the length itself is incomplete
    with pytest.raises(p.MqttError) as refused:
        p.split_packet(raw[:3], 100)  # refused from its header alone, before its bytes arrive
    assert refused.value.reason == "mqtt_too_large"
    with pytest.raises(p.MqttError):
        p.split_packet(b"\x30\xff\xff\xff\xff\x01", 1 << 30)


def test_a_subscribers_connect_is_a_persistent_session_with_its_credentials() -> None:
    for version in (p.MQTT_311, p.MQTT_5):
        raw = p.connect_packet(client_id="forewarn-city", version=version, keepalive_s=60, clean=False,
                               username="u", password="密码", session_expiry_s=3600)
        _, _, body, _ = p.split_packet(raw, 1024) or (0, 0, b"", 0)
        hello = p.parse_connect(body)
        assert (hello.version, hello.client_id, hello.clean, hello.username, hello.password) == (
            version, "forewarn-city", False, "u", "密码".encode())
    assert p.connack(p.MQTT_311, "bad_credentials") == b"\x20\x02\x00\x04"
    assert p.connack(p.MQTT_5, "bad_credentials") == b"\x20\x03\x00\x86\x00"
    with pytest.raises(p.MqttError) as old:
        p.parse_connect(b"\x00\x04MQTT\x06\x00\x00\x3c\x00\x00")
    assert old.value.reason == "mqtt_unsupported_version"


def test_topic_filters_and_layouts() -> None:
    assert topic_matches("forewarn/+/readings", "forewarn/451202A1/readings")
    assert not topic_matches("forewarn/+/readings", "forewarn/451202A1/readings/x")
    assert topic_matches("hj212/#", "hj212/site/1") and not topic_matches("hj212/#", "other/x")
    got = decode(LAYOUTS["thingsboard_gateway"], "v1/gateway/telemetry",
                 b'{"MN1": [{"ts": 1764547200000, "values": {"a34002": 1.5, "a34002-Flag": "D"}}]}', None,
                 1764547200000, 1764547300000)
    assert [(k[0], r) for k, rows in got.rows.rows.items() for r in rows] == [
        ("MN1", ("a34002", "Rtd", 1764547200000, 1.5, "D"))]
    with pytest.raises(PayloadError, match="mn 'MN2' is not the topic's MN1"):
        decode(LAYOUTS["forewarn"], "forewarn/MN1/readings",
               b'{"readings": [{"mn": "MN2", "code": "a", "kind": "rtd", "ts": 1764547200000, "value": 1}]}',
               None, 0, 1764547300000)
    with pytest.raises(PayloadError, match="not JSON"):
        decode(LAYOUTS["forewarn"], "forewarn/MN1/readings", b"\xff", None, 0, 1)
