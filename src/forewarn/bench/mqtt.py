"""``forewarn bench mqtt``: MQTT ingest against HJ 212 ingest, the same fleet, one run.

The fleet of ``forewarn bench ingest`` (electricity monitors, 30 values a message) is
registered twice in fresh data directories. Over HJ 212, a client process sends each device's
frames on its own TCP connection and counts the 9014 answers (as ``bench ingest`` does). Over
MQTT, a client process logs each device in to forewarn's MQTT port with its access token and
publishes the same readings as ThingsBoard telemetry (``v1/devices/me/telemetry``, QoS 1, 16
in flight), counting the PUBACKs; a PUBACK, like a 9014, is sent only after the commit. So
both figures are points per second committed, from the first byte sent to the last answer.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from forewarn.access.users import issue_device_token
from forewarn.app import Platform
from forewarn.bench.ingest import FIELDS, METERS, POINTS_PER_FRAME, WINDOW, _end_to_end, _mn, _register
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.protocols.mqtt import packets as p
from forewarn.store.sqlite import SqliteStore

__all__ = ["run_mqtt_bench"]

_T0_MS = 1_767_196_800_000  # 2026-01-01 00:00 +08:00, as bench ingest's frames


def _messages(device: int, count: int) -> list[bytes]:
    out = []
    for n in range(count):
        values = {f"{m}-{f}": round((device * 7 + n * 3 + k) % 500 + 0.125, 3)
                  for m in METERS for k, f in enumerate(FIELDS)}
        body = json.dumps({"ts": _T0_MS + n * 60_000, "values": values}).encode()
        topic = b"v1/devices/me/telemetry"
        variable = len(topic).to_bytes(2, "big") + topic + ((n % 65535) + 1).to_bytes(2, "big")
        out.append(bytes([0x32]) + p._varint(len(variable) + len(body)) + variable + body)
    return out


def _client(port: int, tokens: list[str], per_device: int, ready: mp.Queue, result: mp.Queue) -> None:  # type: ignore[type-arg]
    payload = [_messages(d, per_device) for d in range(len(tokens))]
    ready.put(True)

    async def one(token: str, messages: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(p.connect_packet(client_id=f"bench-{token[:8]}", version=p.MQTT_311, keepalive_s=60,
                                      clean=True, username=token, password=None, session_expiry_s=0))
        buffer = bytearray()
        while p.split_packet(buffer, 1 << 20) is None:
            buffer += await reader.read(65536)
        _, _, body, used = p.split_packet(buffer, 1 << 20) or (0, 0, b"", 0)
        del buffer[:used]
        if not p.parse_connack(body).accepted:
            raise ConnectionError("login refused")
        sent = acked = 0
        while acked < len(messages):
            while sent < len(messages) and sent - acked < WINDOW:
                writer.write(messages[sent])
                sent += 1
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("platform closed the connection")
            buffer += chunk
            while (found := p.split_packet(buffer, 1 << 20)) is not None:
                kind, _, _, used = found
                del buffer[:used]
                acked += kind == p.PacketType.PUBACK
        writer.close()

    async def everyone() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(one(t, m) for t, m in zip(tokens, payload, strict=True)))
        return time.perf_counter() - start

    result.put(asyncio.run(everyone()))


def _mqtt_end_to_end(settings: Settings, devices: int, per_device: int) -> float:
    store = SqliteStore(settings.db_path, Catalogue())
    try:
        ids = dict(store.db.execute("SELECT mn, id FROM devices"))
        tokens = [issue_device_token(store.db, ids[_mn(i)], actor="bench", origin="bench") for i in range(devices)]
    finally:
        store.close()
    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    result: mp.Queue = ctx.Queue()  # type: ignore[type-arg]

    async def run() -> float:
        platform = Platform(settings)
        await platform.start()
        assert platform.mqtt is not None
        proc = ctx.Process(target=_client, args=(platform.mqtt.listener_port, tokens, per_device, ready, result))
        proc.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ready.get)
        elapsed: float = await loop.run_in_executor(None, result.get)
        proc.join()
        await platform.stop()
        return elapsed

    return asyncio.run(run())


def run_mqtt_bench(settings: Settings, *, points: int, devices: int) -> int:
    per_device = max(1, points // (devices * POINTS_PER_FRAME))
    total = per_device * devices * POINTS_PER_FRAME
    figures = {}
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-mqtt-") as tmp:
        for name in ("hj212", "mqtt"):
            run_settings = replace(settings, data_dir=Path(tmp) / name, hj212_host="127.0.0.1", hj212_port=0,
                                   mqtt_listen="127.0.0.1:0", mqtt_broker="")
            run_settings.data_dir.mkdir(parents=True)
            _register(run_settings, devices)
            if name == "hj212":
                elapsed = _end_to_end(run_settings, devices, per_device)[0]
            else:
                elapsed = _mqtt_end_to_end(run_settings, devices, per_device)
            figures[name] = total / elapsed
            print(f"{name:6} {total:,} points from {devices} devices in {elapsed:.2f} s: "
                  f"{figures[name]:,.0f} points/s committed")
    print(f"MQTT / HJ 212: {figures['mqtt'] / figures['hj212']:.2f}")
    return 0
