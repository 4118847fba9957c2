"""The simulator against a real TCP server on loopback: sends, gets answers, re-sends, reconnects,
and stops on time. The server here is a minimal HJ 212 answerer written in the test, so these
tests exercise only the simulator's shell."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from forewarn.protocols.hj212.crc import hj212_crc
from forewarn.sim import SimDevice, SimStats, load_fleet, run_simulator
from forewarn.sim.rhythm import TZ

pytestmark = pytest.mark.integration

NOON = int(datetime(2024, 11, 20, 12, 0, tzinfo=TZ).timestamp() * 1000)
HEADER = re.compile(rb"QN=(\d{17});ST=\w+;CN=(\d{4});PW=(\w+);MN=(\w+);")


def frame(segment: str) -> bytes:
    body = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(body), body, hj212_crc(body))


@dataclass
class Answerer:
    """Answers each valid upload with 9014; can stay mute, drop first copies or hang up."""

    ignore_first_copy: bool = False
    mute: bool = False
    hang_up_after: int | None = None
    uploads: list[tuple[str, str, str]] = field(default_factory=list)  # (mn, cn, qn)
    bad_frames: int = 0
    connections: int = 0
    closed: int = 0
    _seen: set[str] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        count = 0
        try:
            while line := await reader.readuntil(b"\r\n"):
                start = line.find(b"##")
                body = line[start + 6:-6] if start >= 0 else b""
                m = HEADER.match(body)
                if m is None or line[-6:-2] != b"%04X" % hj212_crc(body):
                    self.bad_frames += 1
                    continue
                qn, cn, pw, mn = (g.decode() for g in m.groups())
                self.uploads.append((mn, cn, qn))
                count += 1
                if self.mute or (self.ignore_first_copy and qn + mn not in self._seen):
                    self._seen.add(qn + mn)
                    continue
                writer.write(frame(f"QN={qn};ST=91;CN=9014;PW={pw};MN={mn};Flag=4;CP=&&&&"))
                await writer.drain()
                if self.hang_up_after is not None and count >= self.hang_up_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed += 1
            writer.close()


async def with_server(answerer: Answerer,
                      body: Callable[[int], Awaitable[SimStats]]) -> SimStats:
    server = await asyncio.start_server(answerer.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await body(port)
    finally:
        server.close()
        await server.wait_closed()


def some(kind: str, count: int) -> list[SimDevice]:
    return [d for d in load_fleet() if d.kind == kind][:count]


def test_the_whole_fleet_sends_gets_answers_and_stops_at_its_duration() -> None:
    answerer, lines = Answerer(), list[str]()

    async def body(port: int) -> SimStats:
        return await run_simulator("127.0.0.1", port, duration_s=2.0, speed=60, seed=1,
                                   incident_rate=0, start_ms=NOON, log=lines.append)

    began = time.monotonic()
    stats = asyncio.run(with_server(answerer, body))
    elapsed = time.monotonic() - began
    assert 2.0 <= elapsed < 4.0
    fleet = load_fleet()
    assert answerer.connections == len(fleet)
    assert {mn for mn, _, _ in answerer.uploads} == {d.mn for d in fleet}
    assert {cn for _, cn, _ in answerer.uploads} >= {"2011", "2021", "2051"}
    assert stats.sent == len(answerer.uploads) > len(fleet)
    assert stats.answered >= stats.sent - len(fleet)  # at most one in flight per device at stop
    assert stats.resent == 0 and stats.unanswered == 0 and stats.connection_errors == 0
    assert answerer.bad_frames == 0
    assert lines[-1] == stats.summary()


def test_unanswered_uploads_are_resent_with_the_same_qn() -> None:
    answerer = Answerer(ignore_first_copy=True)

    async def body(port: int) -> SimStats:
        return await run_simulator("127.0.0.1", port, duration_s=1.5, speed=60, incident_rate=0,
                                   devices=some("gas_station_rtu", 3), start_ms=NOON,
                                   log=lambda _: None)

    stats = asyncio.run(with_server(answerer, body))
    assert stats.resent > 0 and stats.answered > 0
    qns = [qn for _, _, qn in answerer.uploads]
    assert all(qns.count(qn) == 2 for qn in set(qns) if qns.count(qn) > 1)


def test_a_device_gives_up_after_three_resends() -> None:
    answerer = Answerer(mute=True)

    async def body(port: int) -> SimStats:
        return await run_simulator("127.0.0.1", port, duration_s=1.5, speed=600, incident_rate=0,
                                   devices=some("dust_monitor", 1), start_ms=NOON,
                                   resend_after_s=10, max_resends=3, log=lambda _: None)

    stats = asyncio.run(with_server(answerer, body))
    assert stats.answered == 0 and stats.unanswered > 0
    assert stats.resent >= 3 * stats.unanswered
    qns = [qn for _, _, qn in answerer.uploads]
    assert max(qns.count(qn) for qn in qns) == 4  # the upload and its three re-sends


def test_the_simulator_reconnects_after_the_platform_hangs_up() -> None:
    answerer = Answerer(hang_up_after=1)

    async def body(port: int) -> SimStats:
        return await run_simulator("127.0.0.1", port, duration_s=1.5, speed=120, incident_rate=0,
                                   devices=some("power_meter", 2), start_ms=NOON,
                                   log=lambda _: None)

    stats = asyncio.run(with_server(answerer, body))
    assert answerer.connections > 2
    assert stats.connection_errors > 0
    assert stats.answered >= 3


def test_incidents_are_logged_one_line_each_and_malformed_packets_reach_the_wire() -> None:
    answerer, lines = Answerer(), list[str]()

    async def body(port: int) -> SimStats:
        return await run_simulator("127.0.0.1", port, duration_s=2.0, speed=60, seed=11,
                                   incident_rate=40, start_ms=NOON, log=lines.append)

    stats = asyncio.run(with_server(answerer, body))
    incident_lines = [line for line in lines if line.startswith("incident ")]
    assert stats.incidents == len(incident_lines) > 20
    assert all(re.search(r"MN=[0-9A-F]{24} site=\S+", line) for line in incident_lines)
    if any("bad_crc" in line or "garbage" in line for line in incident_lines):
        assert answerer.bad_frames > 0 or stats.resent > 0


def test_cancelling_the_simulator_closes_its_connections_and_reraises() -> None:
    answerer, lines = Answerer(), list[str]()

    async def body(port: int) -> SimStats:
        task = asyncio.create_task(run_simulator(
            "127.0.0.1", port, speed=60, incident_rate=0, devices=some("fume_monitor", 3),
            start_ms=NOON, log=lines.append))
        await asyncio.sleep(0.8)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(50):
            if answerer.closed == answerer.connections:
                break
            await asyncio.sleep(0.02)
        return SimStats()

    asyncio.run(with_server(answerer, body))
    assert answerer.connections == 3 and answerer.closed == 3
    assert lines[-1].startswith("simulator: sent=")


def test_an_unreachable_platform_is_reported_once_and_retried_until_the_end() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    lines: list[str] = []
    began = time.monotonic()
    stats = asyncio.run(run_simulator("127.0.0.1", port, duration_s=1.0, speed=60,
                                      incident_rate=0, devices=some("dust_monitor", 4),
                                      log=lines.append))
    assert time.monotonic() - began < 2.5
    assert stats.sent == 0 and stats.connection_errors > 4
    assert sum("cannot connect" in line for line in lines) == 1
