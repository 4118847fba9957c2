"""The live stream on a real platform: WebSocket and SSE clients over loopback, devices
speaking HJ 212, scope and filters, alarms, a slow client dropped while ingest goes on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from forewarn.access.users import disable_user
from forewarn.app import Platform
from forewarn.web import routes_live
from tests.integration.api import DATONG_MN, HECHI_MN, HECHI_MN2, PASSWORD, TZ, Fleet, assert_problem, bearer, run
from tests.integration.harness import FakeDevice, data_packet

pytestmark = pytest.mark.integration

Event = dict[str, Any]


def now_packet(mn: str, values: str = "a34002-Rtd=45.2,a34002-Flag=N", *, seconds_ago: int = 0) -> bytes:
    """A data upload dated now (device clock in Asia/Shanghai): live data, not a backfill."""
    moment = datetime.fromtimestamp(time.time() - seconds_ago, TZ)
    stamp = moment.strftime("%Y%m%d%H%M%S")
    return data_packet(mn, f"DataTime={stamp};{values}", qn=stamp + "000")


async def send(platform: Platform, mn: str, values: str = "a34002-Rtd=45.2,a34002-Flag=N") -> None:
    """One device connection sends one packet and gets its 9014: the readings are stored."""
    dev = await FakeDevice.connect(platform.hj212_port)
    try:
        await dev.send(now_packet(mn, values))
        assert (await dev.answer()).cn == "9014"
    finally:
        await dev.close()


@contextlib.asynccontextmanager
async def ws(platform: Platform, token: str | None, query: str = "") -> AsyncIterator[ClientConnection]:
    """A WebSocket client, past its ``subscribed`` message."""
    headers = bearer(token) if token else {}
    async with connect(f"ws://127.0.0.1:{platform.http_port}/api/v1/live{query}", additional_headers=headers,
                       open_timeout=5) as conn:
        hello = json.loads(await asyncio.wait_for(conn.recv(), 5))
        assert hello["type"] == "subscribed", hello
        yield conn


async def ws_event(conn: ClientConnection, type_: str, timeout: float = 5.0) -> Event:
    """The next event of this type (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event: Event = json.loads(await conn.recv())
            if event["type"] == type_:
                return event


class Sse:
    """An SSE client reading ``event:``/``data:`` blocks from an httpx stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.comments = 0

    async def next(self, timeout: float = 5.0) -> tuple[str, Event]:
        name, data = "message", ""
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    return name, json.loads(data)
        raise AssertionError("the stream ended")

    async def event(self, type_: str, timeout: float = 5.0) -> Event:
        while True:
            name, data = await self.next(timeout)
            if name == type_:
                assert data["type"] == type_
                return data


@contextlib.asynccontextmanager
async def sse(client: httpx.AsyncClient, token: str, **params: str) -> AsyncIterator[Sse]:
    async with client.stream("GET", "/api/v1/live/sse", headers=bearer(token), params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Sse(response)
        assert (await stream.next())[0] == "subscribed"
        yield stream


def site_of(fleet: Fleet, mn: str) -> int:
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        return int(db.execute("SELECT site_id FROM devices WHERE mn = ?", (mn,)).fetchone()[0])
    finally:
        db.close()


def test_a_stored_reading_reaches_websocket_and_sse_and_the_device_goes_online(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        token = fleet.tokens["city"]
        async with ws(platform, token) as conn, sse(client, token) as stream:
            started = time.monotonic()
            await send(platform, HECHI_MN)
            for event in (await ws_event(conn, "readings"), await stream.event("readings")):
                assert event["mn"] == HECHI_MN and event["kind"] == "rtd"
                assert event["site_id"] == site_of(fleet, HECHI_MN) and event["site"] == "储配站"
                [reading] = event["readings"]
                assert reading["code"] == "a34002" and reading["field"] == "Rtd"
                assert reading["value"] == 45.2 and reading["flag"] == "N"
                assert reading["ts"].endswith("+08:00")
            # never heard before the start, now heard: online, once
            online = await ws_event(conn, "device")
            assert online["mn"] == HECHI_MN and online["status"] == "online" and online["last_seen"].endswith("+08:00")
            assert (await stream.event("device"))["status"] == "online"
            assert time.monotonic() - started < 5  # the status is looked at every second
            metrics = (await client.get("/metrics")).text
            assert "forewarn_live_subscribers 2" in metrics and "forewarn_live_dropped_total 0" in metrics

    run(fleet.settings, scenario)


def test_scope_always_applies_and_filters_narrow(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        site2 = site_of(fleet, HECHI_MN2)
        async with (
            ws(platform, fleet.tokens["datong"], "?types=readings") as datong,
            # asking for Hechi does not widen a Datong administrator's scope
            ws(platform, fleet.tokens["datong"], "?types=readings&region=451202") as datong_asks_hechi,
            ws(platform, fleet.tokens["gasco"], "?types=readings") as gasco,
            ws(platform, fleet.tokens["city"], f"?types=readings&site={site2}") as one_site,
            ws(platform, fleet.tokens["city"], "?types=readings&region=140200") as city_datong,
            ws(platform, fleet.tokens["city"]) as changes_filter,
            sse(client, fleet.tokens["hechi"], types="readings") as hechi,
        ):
            await changes_filter.send(json.dumps({"subscribe": {"types": ["readings"], "site": site2}}))
            ack = json.loads(await changes_filter.recv())
            assert ack["type"] == "subscribed" and ack["site"] == site2 and ack["types"] == ["readings"]
            await changes_filter.send("{\"subscribe\": {\"types\": \"weather\"}}")
            assert json.loads(await changes_filter.recv())["type"] == "error"  # and the filter stays

            # Hechi data first; everything published after it arrives after it
            await send(platform, HECHI_MN)
            await send(platform, HECHI_MN2)
            await send(platform, DATONG_MN, "a34001-Rtd=80.5,a34001-Flag=N")

            assert (await ws_event(datong, "readings"))["mn"] == DATONG_MN  # the first it sees
            assert (await ws_event(city_datong, "readings"))["mn"] == DATONG_MN
            assert (await ws_event(one_site, "readings"))["mn"] == HECHI_MN2
            assert (await ws_event(changes_filter, "readings"))["mn"] == HECHI_MN2
            assert [(await ws_event(gasco, "readings"))["mn"] for _ in range(2)] == [HECHI_MN, HECHI_MN2]
            assert [(await hechi.event("readings"))["mn"] for _ in range(2)] == [HECHI_MN, HECHI_MN2]
            # a last Datong event marks the end: nothing of Hechi came before it to those who asked for Hechi
            await send(platform, DATONG_MN, "a34001-Rtd=81,a34001-Flag=N")
            assert (await ws_event(datong, "readings"))["readings"][0]["value"] == 81
            with pytest.raises(TimeoutError):  # its filter and its scope have nothing in common
                await ws_event(datong_asks_hechi, "readings", timeout=0.3)
            with pytest.raises(TimeoutError):  # no Datong event for the gas company
                await ws_event(gasco, "readings", timeout=0.3)

    run(fleet.settings, scenario)


def test_alarm_steps_arrive_whoever_takes_them(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        async with (
            ws(platform, fleet.tokens["hechi"], "?types=alarm") as hechi,
            ws(platform, fleet.tokens["datong"], "?types=alarm,readings") as datong,
        ):
            await send(platform, HECHI_MN, "GD1-LEL=31.2,GD1-Flag=N")  # above 25 %LEL
            fired = await ws_event(hechi, "alarm")
            assert fired["event"] == "fired" and fired["rule_id"] == "gas.lel" and fired["level"] == 1
            assert fired["state"] == "firing" and fired["site_id"] == site_of(fleet, HECHI_MN)
            assert fired["title"] == {"zh": "可燃气体浓度报警", "en": "Combustible gas alarm"}
            assert "25" in fired["explanation"]["en"] and fired["explanation"]["zh"]
            assert fired["at"].endswith("+08:00") and fired["actor"] == "system"

            # acknowledged from the command line, in another process
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "forewarn", "alarms", "ack", str(fired["alarm_id"]), "--by", "值班员",
                "--data", str(fleet.settings.data_dir), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            assert proc.returncode == 0, err
            acked = await ws_event(hechi, "alarm", timeout=3)
            assert acked["event"] == "acknowledged" and acked["alarm_id"] == fired["alarm_id"]
            assert acked["state"] == "acknowledged" and acked["actor"] == "值班员"

            await send(platform, DATONG_MN, "a34001-Rtd=80.5,a34001-Flag=N")
            first = json.loads(await asyncio.wait_for(datong.recv(), 5))
            assert first["type"] == "readings" and first["mn"] == DATONG_MN  # no Hechi alarm came before

    run(fleet.settings, scenario)


def _raw_handshake(port: int, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads (a tiny receive
    buffer, so the server's writes back up at once)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall((f"GET /api/v1/live?types=readings HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _close_code(stream: bytes) -> int | None:
    """The code of the close frame at the end of an unmasked server stream, if it is there."""
    at, code = 0, None
    while at + 2 <= len(stream):
        opcode, size = stream[at] & 0x0F, stream[at + 1] & 0x7F
        at += 2
        if size == 126:
            size, at = int.from_bytes(stream[at:at + 2], "big"), at + 2
        elif size == 127:
            size, at = int.from_bytes(stream[at:at + 8], "big"), at + 8
        if opcode == 0x8 and size >= 2:
            code = int.from_bytes(stream[at:at + 2], "big")
        at += size
    return code


def test_a_client_that_does_not_read_is_dropped_and_nobody_else_waits(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        assert platform.live is not None
        platform.live.max_queue = 8
        token = fleet.tokens["city"]
        slow = await asyncio.to_thread(_raw_handshake, platform.http_port, token)
        async with ws(platform, token, "?types=readings") as fast:
            received = 0

            async def read_fast() -> None:
                nonlocal received
                while True:
                    event = json.loads(await fast.recv())
                    received += len(event["readings"])

            reader = asyncio.create_task(read_fast())
            base = int(time.time() * 1000) - 3_600_000
            sent = 0
            for _ in range(30):
                readings = [{"mn": HECHI_MN, "code": "a34002", "field": "Rtd", "kind": "rtd",
                             "ts": base + (sent + i) * 50, "value": i % 100, "flag": "N"} for i in range(2000)]
                answer = await client.post("/api/v1/ingest", json={"readings": readings}, headers=bearer(token))
                assert answer.status_code == 200, answer.text
                sent += len(readings)
                if platform.live.dropped_total:
                    break
            assert platform.live.dropped_total == 1, "the slow client was never dropped"
            metrics = (await client.get("/metrics")).text
            assert "forewarn_live_dropped_total 1" in metrics and "forewarn_live_subscribers 1" in metrics
            # ingest went on, and the reading client got every reading
            db = sqlite3.connect(fleet.settings.db_path)
            try:
                assert db.execute("SELECT COUNT(*) FROM readings_rtd").fetchone()[0] == sent
            finally:
                db.close()
            await asyncio.wait_for(_until(lambda: received == sent), 5)
            reader.cancel()

        def drain() -> bytes:
            data = b""
            # until the server's close frame (it then waits a while for the client's answer) or EOF
            while _close_code(data) is None and (chunk := slow.recv(65536)):
                data += chunk
            return data

        # the slow client, when it finally reads, finds the end of its stream
        stream = await asyncio.to_thread(drain)
        slow.close()
        assert _close_code(stream) == 4008 and b"too slow" in stream[-200:]

    run(fleet.settings, scenario)


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.02)


def test_refused_without_a_valid_user_or_with_a_bad_filter(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        url = f"ws://127.0.0.1:{platform.http_port}/api/v1/live"
        for headers, code in (({}, 4401), (bearer("not-a-token"), 4401)):
            async with connect(url, additional_headers=headers) as conn:
                error = json.loads(await conn.recv())
                assert error["type"] == "error" and error["status"] == 401 and error["detail"]
                with pytest.raises(ConnectionClosed):
                    await conn.recv()
                assert conn.close_code == code and conn.close_reason
        async with connect(url + "?types=weather", additional_headers=bearer(fleet.tokens["city"])) as conn:
            assert json.loads(await conn.recv())["status"] == 400
            with pytest.raises(ConnectionClosed):
                await conn.recv()
            assert conn.close_code == 4400
        # a session cookie sent from another site's page
        async with connect(url, additional_headers={"Cookie": "forewarn_session=x", "Origin": "https://evil.example"}) as conn:
            assert json.loads(await conn.recv())["status"] == 403
            with pytest.raises(ConnectionClosed):
                await conn.recv()
            assert conn.close_code == 4403

        assert_problem(await client.get("/api/v1/live/sse"), 401)
        assert_problem(await client.get("/api/v1/live/sse", headers=bearer("nope")), 401)
        assert_problem(await client.get("/api/v1/live/sse?types=readings,weather",
                                        headers=bearer(fleet.tokens["city"])), 400)
        assert "forewarn_live_subscribers 0" in (await client.get("/metrics")).text

    run(fleet.settings, scenario)


def test_a_disabled_user_stops_receiving_on_open_streams(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes_live, "RECHECK_S", 0.3)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        async with ws(platform, fleet.tokens["gasco"]) as conn, sse(client, fleet.tokens["gasco"]) as stream:
            db = sqlite3.connect(fleet.settings.db_path)
            try:
                with db:
                    assert disable_user(db, "gasco", actor="test", origin="test")
            finally:
                db.close()
            error = json.loads(await asyncio.wait_for(conn.recv(), 3))
            assert error["type"] == "error" and error["status"] == 401
            with pytest.raises(ConnectionClosed):
                await conn.recv()
            assert conn.close_code == 4401
            closed = await stream.event("closed", timeout=3)
            assert not closed["dropped"] and "disabled" in closed["reason"]
        assert "forewarn_live_subscribers 0" in (await client.get("/metrics")).text

    run(fleet.settings, scenario)


def test_a_dashboard_session_opens_the_stream_from_its_own_pages(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        answer = await client.post("/api/v1/auth/login", json={"name": "hechi", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"].split(";")[0]
        origin = f"http://127.0.0.1:{platform.http_port}"
        async with connect(f"ws://127.0.0.1:{platform.http_port}/api/v1/live?types=readings",
                           additional_headers={"Cookie": cookie, "Origin": origin}) as conn:
            hello = json.loads(await conn.recv())
            assert hello["type"] == "subscribed" and hello["user"] == "hechi"
            await send(platform, HECHI_MN)
            assert (await ws_event(conn, "readings"))["mn"] == HECHI_MN

    run(fleet.settings, scenario)
