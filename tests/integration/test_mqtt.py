"""MQTT against real brokers and real clients on loopback.

- forewarn subscribing to a real Mosquitto (its own instance per test, with persistence, so
  that it can be restarted mid-stream as a broker is in the field): QoS 1, a persistent
  session, each message acknowledged only once stored. A device publishes a reading a message
  with at-least-once retries (paho, as data units do); the broker is restarted half-way; every
  reading is stored exactly once.
- Layouts: forewarn's JSON batch, ThingsBoard's gateway API, HJ 212 frames as payloads; an
  unknown MN's message is quarantined and claimed when the MN is registered.
- forewarn's own MQTT port: ThingsBoard's own SDK (tb-mqtt-client) logs in with the device's
  access token, and its telemetry is stored; a wrong token is refused at CONNECT.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from forewarn.app import Platform
from forewarn.protocols.hj212.codec import wrap
from tests.integration.harness import eventually, register, settings_for

pytestmark = pytest.mark.integration

MN = "451202MQTT00000000000001"
OTHER = "451202MQTT00000000000002"
T0 = 1_764_547_200_000  # 2025-12-01 00:00 UTC, in the past: judged as backfill, stored all the same


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A real Mosquitto on loopback with persistence, that a test can restart."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        # as root, mosquitto would switch to its own user, which cannot write the test's folder
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
                             f"persistence true\npersistence_location {folder}/\nautosave_interval 1\nmax_queued_messages 100000\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise AssertionError("mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: it saves its persistence file
            self.process.wait(5)
            self.process = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.stop()


def _publisher(port: int, client_id: str) -> paho.Client:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    return client


def _publish_until_acked(client: paho.Client, port: int, topic: str, payload: bytes, client_id: str) -> paho.Client:
    """At least once, as a data unit does: publish with QoS 1 and send again (reconnecting when
    the broker has gone) until the broker acknowledges."""
    for _ in range(200):
        try:
            info = client.publish(topic, payload, qos=1)
            info.wait_for_publish(1.0)
            if info.is_published():
                return client
        except (RuntimeError, ValueError, OSError):
            pass
        with contextlib.suppress(Exception):
            client.loop_stop()
            client.disconnect()
        time.sleep(0.1)
        with contextlib.suppress(OSError):
            client = _publisher(port, client_id)
    raise AssertionError("the broker never took the message")


def _rtd_rows(settings: object, mn: str) -> list[tuple[int, float]]:
    db = sqlite3.connect(settings.db_path)  # type: ignore[attr-defined]
    try:
        return sorted(db.execute(
            "SELECT r.ts, r.value FROM readings_rtd r JOIN points p ON p.id = r.point_id JOIN devices d "
            "ON d.id = p.device_id WHERE d.mn = ?", (mn,)).fetchall())
    finally:
        db.close()


def test_a_broker_restart_mid_stream_loses_nothing(tmp_path: Path, broker: Broker) -> None:
    settings = settings_for(tmp_path, mqtt_broker=broker.url, mqtt_client_id="forewarn-test", rules_enabled=0)
    register(settings, tmp_path, [{"mn": MN}])
    count = 60

    async def scenario() -> None:
        platform = Platform(settings)
        await platform.start()
        try:
            assert platform.mqtt is not None and platform.mqtt.subscriber is not None
            await asyncio.wait_for(platform.mqtt.subscriber.connected.wait(), 5)
            loop = asyncio.get_running_loop()

            def device() -> None:
                client = _publisher(broker.port, "data-unit-1")
                for i in range(count):
                    if i == count // 2:
                        broker.stop()  # the broker goes down mid-stream ...
                        broker.start()  # ... and comes back with what it had persisted
                    body = {"readings": [{"code": "a34002", "field": "Rtd", "kind": "rtd", "ts": T0 + i * 60_000,
                                          "value": float(i)}]}
                    client = _publish_until_acked(client, broker.port, f"forewarn/{MN}/readings",
                                                  json.dumps(body).encode(), "data-unit-1")
                client.loop_stop()
                client.disconnect()

            await loop.run_in_executor(None, device)
            await eventually(lambda: len(_rtd_rows(settings, MN)) == count, timeout=20)
            assert platform.mqtt.subscriber.connects >= 2  # it reconnected after the restart
        finally:
            await platform.stop()

    asyncio.run(scenario())
    rows = _rtd_rows(settings, MN)
    assert rows == [(T0 + i * 60_000, float(i)) for i in range(count)]  # each once, none lost


def test_layouts_gateway_hj212_and_an_unknown_mn_claimed_later(tmp_path: Path, broker: Broker) -> None:
    settings = settings_for(tmp_path, mqtt_broker=broker.url, mqtt_client_id="forewarn-layouts", rules_enabled=0)
    register(settings, tmp_path, [{"mn": MN, "password": "123456"}])
    frame = wrap(f"QN=20251201000000000;ST=22;CN=2011;PW=123456;MN={MN};Flag=4;"
                         "CP=&&DataTime=20251201090000;a34002-Rtd=77.5,a34002-Flag=N&&")

    async def scenario() -> None:
        platform = Platform(settings)
        await platform.start()
        try:
            assert platform.mqtt is not None and platform.mqtt.subscriber is not None
            await asyncio.wait_for(platform.mqtt.subscriber.connected.wait(), 5)
            loop = asyncio.get_running_loop()

            def publish() -> None:
                client = _publisher(broker.port, "gateway-1")
                gateway = {MN: [{"ts": T0, "values": {"a34002": 12.5}}],
                           OTHER: [{"ts": T0, "values": {"a34002": 33.0}}]}  # OTHER is not registered yet
                for topic, payload in (("v1/gateway/telemetry", json.dumps(gateway).encode()),
                                       (f"hj212/{MN}", frame), ("v1/gateway/telemetry", b"not json")):
                    _publish_until_acked(client, broker.port, topic, payload, "gateway-1")
                client.loop_stop()
                client.disconnect()

            await loop.run_in_executor(None, publish)
            await eventually(lambda: len(_rtd_rows(settings, MN)) == 2, timeout=10)
            db = platform.read_store.db
            await eventually(lambda: db.execute("SELECT COUNT(*) FROM quarantine WHERE mn = ?", (OTHER,)
                                                ).fetchone()[0] == 1)
            fmt = db.execute("SELECT format FROM quarantine WHERE mn = ?", (OTHER,)).fetchone()[0]
            assert fmt == "mqtt:thingsboard_gateway"
            await eventually(lambda: db.execute("SELECT count FROM rejections WHERE reason = 'mqtt_bad_payload'"
                                                ).fetchone() is not None)
            # the MN is registered while the platform runs: its quarantined reading is stored
            register(settings, tmp_path, [{"mn": MN, "password": "123456"}, {"mn": OTHER}])
            await eventually(lambda: _rtd_rows(settings, OTHER) == [(T0, 33.0)], timeout=10)
        finally:
            await platform.stop()

    asyncio.run(scenario())
    hj212_ts = 1_764_550_800_000  # 2025-12-01 09:00 Asia/Shanghai
    assert _rtd_rows(settings, MN) == [(T0, 12.5), (hj212_ts, 77.5)]


def _device_token(settings: object, mn: str) -> str:
    """The device's access token as an administrator gets it: ``forewarn devices token MN``."""
    data = str(settings.data_dir)  # type: ignore[attr-defined]
    wrong = subprocess.run([sys.executable, "-m", "forewarn", "devices", "token", "NOSUCHMN", "--data", data],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and wrong.stderr.startswith("forewarn: error: no registered device with MN NOSUCHMN")
    done = subprocess.run([sys.executable, "-m", "forewarn", "devices", "token", mn, "--by", "运维-王", "--data", data],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_thingsboards_own_sdk_reports_over_forewarns_mqtt_port(tmp_path: Path) -> None:
    from tb_device_mqtt import TBDeviceMqttClient

    settings = settings_for(tmp_path, mqtt_listen="127.0.0.1:0", rules_enabled=0)
    register(settings, tmp_path, [{"mn": MN}])
    token = _device_token(settings, MN)

    async def scenario() -> None:
        platform = Platform(settings)
        await platform.start()
        try:
            assert platform.mqtt is not None
            port = platform.mqtt.listener_port
            loop = asyncio.get_running_loop()

            def sdk() -> None:
                client = TBDeviceMqttClient("127.0.0.1", port=port, username=token)
                client.connect(timeout=5)
                try:
                    for i in range(5):
                        result = client.send_telemetry({"ts": T0 + i * 1000, "values": {"a34002": 40.0 + i}})
                        assert result.get() == 0  # TB_ERR_SUCCESS: the PUBACK came, so it is stored
                    client.send_telemetry({"a34002-Rtd": 99.0, "a34002-Flag": "D"})
                finally:
                    client.disconnect()

            await loop.run_in_executor(None, sdk)
            await eventually(lambda: len(_rtd_rows(settings, MN)) == 6, timeout=10)

            def wrong_token() -> int:
                client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="intruder")
                client.username_pw_set("not-a-token")
                codes: list[int] = []
                client.on_connect = lambda c, u, f, rc, p=None: codes.append(int(rc.value))
                client.connect("127.0.0.1", port)
                deadline = time.monotonic() + 5
                while not codes and time.monotonic() < deadline:
                    client.loop(0.1)
                client.disconnect()
                return codes[0] if codes else -1

            assert await loop.run_in_executor(None, wrong_token) in (4, 134)  # bad user name or password
        finally:
            await platform.stop()

    asyncio.run(scenario())
    rows = _rtd_rows(settings, MN)
    assert rows[:5] == [(T0 + i * 1000, 40.0 + i) for i in range(5)]
    assert rows[5][1] == 99.0
