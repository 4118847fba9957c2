"""Two dispatcher processes over one real database (a SQLite file, or PostgreSQL) and one real
webhook receiver on 127.0.0.1: every notice arrives once and both send their share; one killed
while it holds claims leaves them to the other, which sends them once their lease has passed; a
restart of PostgreSQL in mid-dispatch loses no notice and repeats none."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from forewarn.alarms.notify import EVENT_ID_HEADER, Dispatcher, load_notify_config, payload_of
from forewarn.store.migrate import migrate as sqlite_migrate
from forewarn.store.notice_outbox import NoticeOutbox, OutboxError, open_notice_outbox
from forewarn.store.postgres.migrate import migrate as pg_migrate
from forewarn.store.postgres.notice_outbox import PostgresNoticeOutbox
from tests.pg import fresh_pg_schema
from tests.unit.test_notify_outbox import notice

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Hit:
    event_id: int
    at: float  # wall-clock time it arrived
    answered: bool


@dataclass
class Receiver:
    """A webhook receiver that answers 200 after ``delay_s``, except the first ``hang`` requests,
    which it holds unanswered (a receiver slow enough for a dispatcher to die meanwhile)."""

    delay_s: float = 0.0
    hang: int = 0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answered(self) -> Counter[int]:
        with self.lock:
            return Counter(h.event_id for h in self.hits if h.answered)

    def serve(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event_id = int(self.headers[EVENT_ID_HEADER])
                with receiver.lock:
                    hang = receiver.hang > 0
                    receiver.hang -= hang
                    receiver.hits.append(Hit(event_id, time.time(), not hang))
                if hang:
                    receiver.released.wait(30)
                    return
                time.sleep(receiver.delay_s)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.released.set()
            server.shutdown()
            server.server_close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file in WAL mode, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        path = tmp_path / "forewarn.db"
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        sqlite_migrate(db)
        db.close()
        yield f"sqlite:///{path}"
        return
    for dsn in fresh_pg_schema():
        with psycopg.connect(dsn, autocommit=True) as conn:
            pg_migrate(conn)
        yield dsn


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from Receiver(delay_s=0.005).serve()


@pytest.fixture
def outbox(store_url: str) -> Iterator[NoticeOutbox]:
    opened = open_notice_outbox(store_url)
    yield opened
    opened.close()


class Workers:
    """Dispatcher processes (tests/integration/notify_worker.py), stopped at the end."""

    def __init__(self, store_url: str, config: Path) -> None:
        self.store_url = store_url
        self.config = config
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, owner: str, lease_s: float | None = None) -> None:
        args = [sys.executable, "-m", "tests.integration.notify_worker", self.store_url, str(self.config), owner]
        if lease_s is not None:
            args.append(str(lease_s))
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.procs[owner] = proc
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the worker says it runs (or dies, closing its stdout)
        assert line.strip() == f"ready {owner}", proc.stderr.read() if proc.stderr else line

    def kill(self, owner: str) -> None:
        proc = self.procs.pop(owner)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> dict[str, str]:
        """SIGTERM each, as a platform is stopped; their stderr (empty when all went well)."""
        errors = {}
        for owner, proc in self.procs.items():
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
            assert proc.returncode == 0, err
            errors[owner] = err
        self.procs.clear()
        return errors


@pytest.fixture
def workers(store_url: str, receiver: Receiver, tmp_path: Path) -> Iterator[Workers]:
    config = tmp_path / "notify.toml"
    config.write_text(
        f'[[channel]]\nname = "city"\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "s"\ntimeout_s = 2\n\n'
        '[[route]]\nchannels = ["city"]\n\n[delivery]\nper_channel_concurrency = 4\n', encoding="utf-8")
    running = Workers(store_url, config)
    try:
        yield running
    finally:
        for proc in running.procs.values():
            proc.kill()
            proc.wait(10)


def wait_for(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.02)


def queue(outbox: NoticeOutbox, count: int) -> list[int]:
    now_ms = int(time.time() * 1000)
    return [i for alarm in range(1, count + 1)
            for i in outbox.enqueue(alarm, "fired", payload_of(notice(alarm)), ["city"], now_ms)]


def test_two_dispatchers_deliver_every_notice_exactly_once_and_share_the_work(
    outbox: NoticeOutbox, receiver: Receiver, workers: Workers
) -> None:
    workers.start("east")
    workers.start("west")
    ids = queue(outbox, 200)
    wait_for(lambda: outbox.pending_count() == 0, 60, "every notice delivered")
    assert workers.stop() == {"east": "", "west": ""}
    assert receiver.answered() == Counter(ids)  # each id answered once, none missing
    assert len(receiver.hits) == 200  # and none sent a second time
    items = outbox.items(ids)
    assert all(i.delivered_ms is not None and i.attempts == 1 for i in items)
    by = Counter(i.claimed_by for i in items)
    assert set(by) == {"east", "west"} and min(by.values()) >= 10, by


def test_claims_of_a_killed_dispatcher_are_sent_by_the_other_once_their_lease_has_passed(
    outbox: NoticeOutbox, receiver: Receiver, workers: Workers
) -> None:
    receiver.hang = 4  # the first dispatcher's four sends get no answer
    workers.start("doomed", lease_s=1.5)  # a lease shorter than the deadline: the test need not wait long
    ids = queue(outbox, 10)
    wait_for(lambda: len(receiver.hits) == 4, 10, "the first dispatcher's sends in flight")
    held = [i for i in outbox.items(ids) if i.claimed_by == "doomed"]
    assert len(held) == 4 and all(i.lease_until_ms is not None for i in held)
    workers.kill("doomed")  # mid-send, claims held
    workers.start("heir")
    wait_for(lambda: outbox.pending_count() == 0, 20, "everything delivered by the other dispatcher")
    assert workers.stop() == {"heir": ""}
    assert receiver.answered() == Counter(ids)  # every notice answered once ...
    items = outbox.items(ids)
    assert {i.claimed_by for i in items} == {"heir"} and all(i.attempts == 1 for i in items)
    lease_ends = {i.id: i.lease_until_ms or 0 for i in held}
    for hit in receiver.hits:
        if hit.answered and hit.event_id in lease_ends:  # ... those the dead one held, after their lease
            assert hit.at * 1000 >= lease_ends[hit.event_id]


class OwnPostgres:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, a free port), so
    that it can be restarted without disturbing the machine's."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="forewarn-pg-"))
        shutil.chown(self.dir, "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._pg("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.BIN / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def restart(self) -> None:
        """As an operator's restart: every connection is cut, committed work stays."""
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "restart")

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_pg() -> Iterator[OwnPostgres]:
    cluster = OwnPostgres()
    try:
        with psycopg.connect(cluster.dsn, autocommit=True) as conn:
            pg_migrate(conn)
        yield cluster
    finally:
        cluster.close()


def test_a_postgresql_restart_mid_dispatch_loses_no_notice_and_repeats_none(
    own_pg: OwnPostgres, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.delay_s = 0.05  # sends in flight while PostgreSQL goes down and comes back
    config = tmp_path / "notify.toml"
    config.write_text(
        f'[[channel]]\nname = "city"\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "s"\ntimeout_s = 2\n\n'
        '[[route]]\nchannels = ["city"]\n\n[delivery]\nper_channel_concurrency = 4\n', encoding="utf-8")
    watcher = PostgresNoticeOutbox(own_pg.dsn)
    ids = queue(watcher, 40)

    def pending() -> int:
        try:
            return watcher.pending_count()
        except OutboxError:  # its connection was cut too: asked again
            return -1

    async def main() -> None:
        dispatcher = Dispatcher(PostgresNoticeOutbox(own_pg.dsn), load_notify_config(config), poll_s=0.05,
                                lease_s=20)
        task = asyncio.create_task(dispatcher.run())
        try:
            while len(receiver.answered()) < 8:
                await asyncio.sleep(0.02)
            await asyncio.to_thread(own_pg.restart)
            while await asyncio.to_thread(pending) != 0:
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(main(), 60))
    watcher.close()
    assert receiver.answered() == Counter(ids) and len(receiver.hits) == 40  # each once, none again
