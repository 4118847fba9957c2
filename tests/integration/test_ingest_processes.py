"""Several ingest processes behind one address: real ``forewarn serve --role ingest`` processes
sharing the HJ 212 port (SO_REUSEPORT), on the embedded store and on the machine's PostgreSQL.

What a device must be able to count on, whatever happens to the process it talks to: a reading
answered 9014 is stored, once; a device cut off (its process killed with SIGKILL, nothing
flushed, nothing said) reconnects to the same address, reaches a surviving process, sends its
unanswered frame again, and that too is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import DeviceRow, PointRow
from tests.integration.harness import FakeDevice, data_packet
from tests.pg import fresh_pg_schema

DEVICES = 16
#: the devices' clocks: local time of the platform's default zone
BASE = datetime(2026, 11, 22, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _mn(i: int) -> str:
    return f"451202PROC{i:014d}"


def _frame(device: int, n: int) -> bytes:
    dt = (BASE + timedelta(minutes=n)).strftime("%Y%m%d%H%M%S")
    return data_packet(_mn(device), f"DataTime={dt};a34002-Rtd={device + n / 1000:.3f},a34002-Flag=N",
                       qn=f"{dt}{n % 1000:03d}")


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    yield from fresh_pg_schema()


def _open(url: str):  # type: ignore[no-untyped-def]
    """The store the processes write to, through the store interface (either engine)."""
    if url.startswith("sqlite:///"):
        from forewarn.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite:///")), Catalogue())
    opening = pytest.importorskip("forewarn.store.open", reason="the PostgreSQL store is not committed yet")
    return opening.open_store(url, Catalogue())


def _register(url: str) -> None:
    rows = [DeviceRow(region_code="451202", region_name="金城江区", parent_region_code="451200",
                      enterprise=f"进程测试企业{i}", site="站", site_type="factory", mn=_mn(i), password="123456",
                      interval_s=60) for i in range(DEVICES)]
    store = _open(url)
    try:
        store.apply_registry(rows, [PointRow(_mn(i), "a34002", "Rtd") for i in range(DEVICES)])
    finally:
        store.close()


def _stored(url: str) -> tuple[Counter[tuple[str, int]], dict[str, int]]:
    """Each (MN, DataTime) stored, with how many rows it has; and the store's counters."""
    store = _open(url)
    try:
        rows: Counter[tuple[str, int]] = Counter()
        for i in range(DEVICES):
            for record in store.readings(_mn(i), Kind.RTD):
                rows[(record.mn, record.ts_ms)] += 1
        return rows, store.counters()
    finally:
        store.close()


class IngestProcess:
    """``python -m forewarn serve --role ingest`` on the shared port; its output read on a thread."""

    def __init__(self, data: Path, config: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "forewarn", "serve", "--role", "ingest", "--data", str(data), "--config",
             str(config), "--hj212-host", "127.0.0.1", "--hj212-port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"not serving within {timeout} s: {''.join(self.output)}") from None
            if "serving HJ 212" in line:
                assert "shared with other ingest processes" in line, line
                return

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _connections_by_pid(port: int, pids: list[int]) -> Counter[int]:
    """Established device connections on ``port`` held by each of ``pids`` (from /proc)."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(path, encoding="ascii") as table:
            for line in list(table)[1:]:
                cols = line.split()
                if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    held: Counter[int] = Counter()
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held[pid] += 1
    return held


@contextlib.contextmanager
def _shared_port() -> Iterator[int]:
    """A port of our own for the test: held (bound, never listening) with SO_REUSEPORT, so the
    processes may bind it too and no other test takes it meanwhile."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@contextlib.contextmanager
def _ingest_processes(tmp_path: Path, url: str, count: int) -> Iterator[tuple[int, list[IngestProcess]]]:
    config = tmp_path / "forewarn.toml"
    store = "" if url.startswith("sqlite:///") else f'store = "{url}"\n'
    config.write_text(f"{store}registry_poll_s = 0.2\n", encoding="utf-8")
    with _shared_port() as port:
        procs = [IngestProcess(tmp_path / "data", config, port) for _ in range(count)]
        try:
            for proc in procs:
                proc.ready()
            yield port, procs
        finally:
            for proc in procs:
                proc.stop()


class Device:
    """A device sending its frames one at a time, each only after the last was answered 9014;
    cut off, it connects again to the same address and sends the unanswered frame again."""

    def __init__(self, index: int, frames: int) -> None:
        self.index = index
        self.frames = [_frame(index, n) for n in range(frames)]
        self.answered: list[int] = []
        self.reconnects = 0
        self.connected = asyncio.Event()

    async def run(self, port: int) -> None:
        n = 0
        while n < len(self.frames):
            try:
                dev = await FakeDevice.connect(port)
            except OSError:
                self.reconnects += 1
                await asyncio.sleep(0.05)
                continue
            try:
                while n < len(self.frames):
                    await dev.send(self.frames[n])
                    assert (await dev.answer(timeout=10.0)).cn == "9014"
                    self.answered.append(n)
                    self.connected.set()
                    n += 1
            except (OSError, TimeoutError):  # cut off (reset, or silence): again, elsewhere
                self.reconnects += 1
            finally:
                with contextlib.suppress(OSError):
                    await dev.close()

    def answered_times(self) -> set[tuple[str, int]]:
        return {(_mn(self.index), int((BASE + timedelta(minutes=n)).timestamp() * 1000)) for n in self.answered}


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'forewarn.db'}"


def test_two_ingest_processes_share_the_port_and_store_every_answered_reading_once(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path)
    _register(url)
    frames = 15
    with _ingest_processes(tmp_path, url, 2) as (port, procs):
        devices = [Device(i, frames) for i in range(DEVICES)]

        async def scenario() -> Counter[int]:
            tasks = [asyncio.create_task(d.run(port)) for d in devices]
            await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), 20)
            held = _connections_by_pid(port, [p.proc.pid for p in procs])  # every device is connected now
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            return held

        held = asyncio.run(scenario())
    # the kernel gave each process some devices (16 connections all on one: a 2 in 65,536 chance)
    assert len(held) == 2 and sum(held.values()) == DEVICES, held
    rows, counters = _stored(url)
    answered = set().union(*(d.answered_times() for d in devices))
    assert len(answered) == DEVICES * frames
    assert set(rows) == answered and set(rows.values()) == {1}
    assert counters.get("readings_stored") == DEVICES * frames  # neither writer stored anything twice


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    pytest.importorskip("forewarn.store.open", reason="the PostgreSQL store is not committed yet")
    return str(request.getfixturevalue("pg_dsn"))


def test_kill_9_of_an_ingest_process_loses_and_duplicates_no_answered_reading(tmp_path: Path, store_url: str) -> None:
    _register(store_url)
    frames = 60
    with _ingest_processes(tmp_path, store_url, 2) as (port, procs):
        devices = [Device(i, frames) for i in range(DEVICES)]
        pids = [p.proc.pid for p in procs]

        async def scenario() -> int:
            tasks = [asyncio.create_task(d.run(port)) for d in devices]
            await asyncio.wait_for(asyncio.gather(*(d.connected.wait() for d in devices)), 20)
            while sum(len(d.answered) for d in devices) < DEVICES * frames // 3:
                await asyncio.sleep(0.01)
            held = _connections_by_pid(port, pids)
            victim = max(pids, key=lambda pid: held[pid])
            os.kill(victim, signal.SIGKILL)  # mid-stream: batches in its writer's hands, answers unsent
            await asyncio.wait_for(asyncio.gather(*tasks), 40)
            return held[victim]

        cut_off = asyncio.run(scenario())
    assert cut_off >= 1
    assert sum(d.reconnects for d in devices) >= cut_off  # the killed process's devices came back
    rows, _ = _stored(store_url)
    answered = set().union(*(d.answered_times() for d in devices))
    assert len(answered) == DEVICES * frames  # every device finished, through the survivor
    missing = answered - set(rows)
    assert not missing, f"answered 9014 but not stored: {sorted(missing)[:5]}"
    assert set(rows.values()) == {1}  # once each (the first value kept for a point and time)
