"""Attacks on the ports (issue 12, items 7, 8 and 10), against the real server on loopback.

Each is bounded in time and in connections, sends only to 127.0.0.1, and fails without its
fix. The full-length flood (20 s) and its figures are ``forewarn bench flood`` in
docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from forewarn.app import Platform
from forewarn.cli.common import open_store
from forewarn.config import Settings
from tests.integration.harness import FakeDevice, data_packet, register, settings_for

MN = "010000A8900016F000169DC0"
LENIENT = "NOCRLF000000000000000001"


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(settings: Settings, *, http: bool = False) -> AsyncIterator[Platform]:
    platform = Platform(settings, http=http)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


def rejections(settings: Settings) -> dict[str, dict[str, object]]:
    store = open_store(settings)
    try:
        return store.status(0, 3)["rejections"]  # type: ignore[return-value]
    finally:
        store.close()


async def connect_from(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to 127.0.0.1 from another loopback address (another peer to the server)."""
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def timed_answers(dev: FakeDevice, until: float, minute: list[int]) -> list[float]:
    """Send one packet at a time until ``until``; the seconds each 9014 took."""
    took = []
    while time.monotonic() < until:
        minute[0] += 1
        packet = data_packet(MN, f"DataTime=202611220{minute[0] // 60 % 10}{minute[0] % 60:02d}00;a34002-Rtd=1")
        t0 = time.monotonic()
        await dev.send(packet)
        assert (await dev.answer(timeout=5.0)).cn == "9014"
        took.append(time.monotonic() - t0)
        await asyncio.sleep(0.01)
    return took


# ---------------------------------------------------------------------------- 7: the flood


def test_a_flood_of_malformed_frames_is_cut_off_while_a_good_device_keeps_its_answers(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    rng = random.Random(12)
    junk = b"".join(b"##" + rng.randbytes(rng.randint(20, 200)) for _ in range(2000))

    async def flood(port: int, until: float, cuts: list[float]) -> None:
        """One connection at a time at full speed; a new one when the platform cuts it off."""
        while time.monotonic() < until:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            began = time.monotonic()
            try:
                while time.monotonic() < until:
                    writer.write(junk)
                    await writer.drain()
            except ConnectionError:
                cuts.append(time.monotonic() - began)
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

    async def scenario() -> None:
        async with serving(settings) as platform:
            assert platform.writer is not None
            good = await FakeDevice.connect(platform.hj212_port)
            until = time.monotonic() + 4.0
            cuts: list[float] = []
            depth = [0]

            async def watch() -> None:
                while time.monotonic() < until:
                    depth[0] = max(depth[0], platform.writer.queue_depth())  # type: ignore[union-attr]
                    await asyncio.sleep(0.005)

            flooder = asyncio.create_task(flood(platform.hj212_port, until, cuts))
            watcher = asyncio.create_task(watch())
            took = await timed_answers(good, until, [0])
            await flooder
            await watcher
            await good.close()
        # the flooder is cut off, again and again, each time within a second
        assert len(cuts) >= 3 and max(cuts) < 1.0, cuts
        # the good device kept its answers through the whole flood (generous: the bench says < 50 ms)
        assert len(took) >= 20 and max(took) < 1.0, (len(took), max(took))
        # refusals did not go to the writer one by one
        assert depth[0] < 50, depth[0]
        refused = rejections(settings)
        assert refused["garbage_connection_closed"]["count"] >= len(cuts)  # every cut counted (the last may end the flood unseen)
        assert "since its last good frame" in str(refused["garbage_connection_closed"]["last_detail"])

    run(scenario())


def test_a_peer_sending_faster_than_the_store_writes_is_not_read_until_its_batches_are_stored(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, max_unstored_per_connection=8, writer_queue_max=32)
    register(settings, tmp_path, [{"mn": MN}, {"mn": "FAST00000000000000000001", "site": "快站"}])
    burst = b"".join(
        data_packet("FAST00000000000000000001", f"DataTime=20261122{h:02d}{m:02d}00;a34002-Rtd={m}")
        for h in range(10) for m in range(60)
    )

    async def scenario() -> None:
        async with serving(settings) as platform:
            assert platform.writer is not None and platform.hj212 is not None
            good = await FakeDevice.connect(platform.hj212_port)
            fast = await FakeDevice.connect(platform.hj212_port)
            until = time.monotonic() + 2.0
            depth = [0]

            async def send_bursts() -> None:
                while time.monotonic() < until:  # never reads its answers
                    await fast.send(burst)

            async def watch() -> None:
                while time.monotonic() < until:
                    depth[0] = max(depth[0], platform.writer.queue_depth())  # type: ignore[union-attr]
                    await asyncio.sleep(0.002)

            tasks = [asyncio.create_task(send_bursts()), asyncio.create_task(watch())]
            took = await timed_answers(good, until, [0])
            for task in tasks:
                await task
            pauses = platform.hj212.pauses
            await good.close()
            await fast.close()
        assert pauses > 0  # the fast peer was held back ...
        assert depth[0] <= 8 + 2, depth[0]  # ... so the queue held its few batches, no more
        assert len(took) >= 10 and max(took) < 1.0, (len(took), max(took))

    run(scenario())


# ---------------------------------------------------------------------------- 8: a late tail


def test_a_frame_whose_last_bytes_arrive_late_is_stored_and_answered(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}, {"mn": LENIENT, "site": "另一站", "leniency": "no_crlf"}])

    async def scenario() -> None:
        async with serving(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for late, minute in ((3, 1), (4, 2), (2, 3)):  # CRC digits and CRLF; the CRLF alone
                packet = data_packet(MN, f"DataTime=202611220{minute}0000;a34002-Rtd={minute}")
                await dev.send(packet[:-late])
                await asyncio.sleep(1.2)  # a cellular link's second, beyond the 0.5 s grace
                await dev.send(packet[-late:])
                assert (await dev.answer()).cn == "9014", late
            # a device allowed to send no CRLF still gets its answer without one
            lenient = await FakeDevice.connect(platform.hj212_port)
            await lenient.send(data_packet(LENIENT)[:-2])
            assert (await lenient.answer(timeout=2.0)).cn == "9014"
            await dev.close()
            await lenient.close()
        assert rejections(settings) == {}

    run(scenario())


# ---------------------------------------------------------------------------- 10: resources


def test_a_dribbling_peer_is_cut_after_a_frame_time_and_shown_escaped(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, frame_timeout_s=1.0)

    async def scenario() -> None:
        async with serving(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            dribble = b"##0400\x1b[2J\x00QN=" + b"1" * 200
            began = time.monotonic()
            sent = 0
            with contextlib.suppress(ConnectionError):
                for byte in dribble:
                    if dev.reader.at_eof():
                        break
                    await dev.send(bytes([byte]))
                    sent += 1
                    with contextlib.suppress(TimeoutError):
                        if await asyncio.wait_for(dev.reader.read(100), 0.1) == b"":
                            break
            cut_after = time.monotonic() - began
            await dev.close()
        assert cut_after < 3.0 and sent < 40, (cut_after, sent)  # not after 8 KB (800 s at this pace)
        detail = str(rejections(settings)["frame_timeout"]["last_detail"])
        assert "\\x1b[2J" in detail and "\x1b" not in detail and len(detail) < 250, detail

    run(scenario())


def test_connections_are_capped_per_address_and_per_port_and_http_keeps_answering(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_connections_per_peer=20, max_connections=30, http_port=0,
                            http_host="127.0.0.1")
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        async with serving(settings, http=True) as platform:
            port = platform.hj212_port
            held = [await connect_from("127.0.0.2", port) for _ in range(25)]
            await asyncio.sleep(0.2)
            closed = [r for r, _ in held if await _closed(r)]
            assert len(closed) == 5  # one address: 20 at most
            more = [await connect_from("127.0.0.3", port) for _ in range(15)]
            await asyncio.sleep(0.2)
            assert len([r for r, _ in more if await _closed(r)]) == 5  # the port: 30 at most
            # the HTTP port still answers
            reader, writer = await asyncio.open_connection("127.0.0.1", platform.http_port)
            writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await asyncio.wait_for(reader.read(100), 3)).startswith(b"HTTP/1.1 200")
            writer.close()
            # and a device gets in once a connection is free
            for _, w in more:
                w.close()
            await asyncio.sleep(0.2)
            dev = await FakeDevice.connect(port)
            await dev.send(data_packet(MN))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
            for _, w in held:
                w.close()
        refused = rejections(settings)["connection_limit"]
        assert refused["count"] == 10
        assert "max_connections" in str(refused["last_detail"])

    run(scenario())


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 0.05) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_http_requests_that_never_finish_are_timed_out(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, http_port=0, http_host="127.0.0.1", http_request_timeout_s=1.0)

    async def scenario() -> None:
        async with serving(settings, http=True) as platform:
            partial = [
                b"",  # opens and says nothing
                b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers never end
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":",  # body never ends
            ]
            began = time.monotonic()
            for start in partial:
                reader, writer = await asyncio.open_connection("127.0.0.1", platform.http_port)
                writer.write(start)
                answer = await asyncio.wait_for(reader.read(), 4.0)  # until the server closes
                assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:60]
                writer.close()
            assert time.monotonic() - began < 6.0

    run(scenario())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_a_low_open_file_limit_survives_a_connection_flood(tmp_path: Path) -> None:
    """1,024 open files was the common default; this is the same with 256 and 300 connections."""
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    hj212, http = _free_port(), _free_port()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 2048:
        return  # the hard limit leaves nothing to raise to on this machine
    server = subprocess.Popen(
        [sys.executable, "-m", "forewarn", "serve", "--data", str(settings.data_dir), "--hj212-port", str(hj212),
         "--hj212-host", "127.0.0.1", "--http-port", str(http), "--http-host", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )

    async def scenario() -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                _, w = await asyncio.open_connection("127.0.0.1", http)
                w.close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
                await asyncio.sleep(0.2)
        held = [await connect_from("127.0.0.2", hj212) for _ in range(300)]
        reader, writer = await asyncio.open_connection("127.0.0.1", http)
        writer.write(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(100), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
        dev = await FakeDevice.connect(hj212)
        await dev.send(data_packet(MN))
        assert (await dev.answer(timeout=5)).cn == "9014"
        await dev.close()
        for _, w in held:
            w.close()

    try:
        run(scenario())
        limits = Path(f"/proc/{server.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        assert line.split()[3] == str(hard), line  # the soft limit was raised to the hard one
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert "Too many open files" not in output
