"""What the notification tests share (no tests here): real receivers on 127.0.0.1, a writer
thread like the platform's, a clock moved by hand.

The HTTP receiver is the standard library's threaded server: it answers each request with the
next status from a script (or hangs, to play a receiver that accepts and never answers) and
keeps every request it got. The dispatcher records outcomes in the real SQLite file through
its own outbox connection; ``write_delay_s`` slows each of those writes, so that a test meets a
send whose outcome takes a while to commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify import Dispatcher, NotifyConfig, enqueue, load_notify_config
from forewarn.store.migrate import migrate
from forewarn.store.notice_outbox import Outcome, SqliteNoticeOutbox

HANG = -1  # a scripted "status" that makes the receiver accept the request and never answer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that answers from a script and records what it got."""

    port: int = 0
    script: list[int] = field(default_factory=list)  # statuses for the next requests; then 200
    requests: list[Request] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextlib.contextmanager
    def serving(self) -> Iterator[Receiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.requests.append(Request(self.command, self.path, dict(self.headers.items()), body))
                status = receiver.script.pop(0) if receiver.script else 200
                if status == HANG:
                    receiver.released.wait(30)
                    return
                answer = b"ok" if status < 300 else b"gateway says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = handle_one

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.released.set()
            server.shutdown()
            server.server_close()


def free_port() -> int:
    """A port nothing listens on now (for a receiver that is down, started later on the same port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Clock:
    """The wall clock the dispatcher sees; tests move it instead of sleeping through backoff."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def ms(self) -> int:
        return int(self.now * 1000)


class SlowOutbox(SqliteNoticeOutbox):
    """The real outbox whose outcome writes each take ``delay_s`` longer (a busy database)."""

    def __init__(self, path: Path, delay_s: float) -> None:
        super().__init__(path)
        self.delay_s = delay_s

    def record(self, owner: str, outcomes: Sequence[Outcome]) -> list[bool]:
        time.sleep(self.delay_s)
        return super().record(owner, outcomes)


@dataclass
class Bench:
    """A database with the outbox, its reader, the clock and the dispatcher."""

    path: Path
    read_db: sqlite3.Connection
    clock: Clock
    dispatcher: Dispatcher

    def enqueue(self, notice: AlarmNotice, channels: list[str] | None = None) -> None:
        """Queue as the alarm code does: in a transaction of the writer, then wake the dispatcher."""
        names = channels if channels is not None else self.dispatcher.config.channels_for(notice)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        enqueue(db, notice, names, self.clock.ms())
        db.execute("COMMIT")
        db.close()
        self.dispatcher.wake()

    def rows(self) -> list[sqlite3.Row]:
        self.read_db.row_factory = sqlite3.Row
        try:
            return self.read_db.execute("SELECT * FROM outbox ORDER BY id").fetchall()
        finally:
            self.read_db.row_factory = None

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.dispatcher.wake()


def config_file(tmp_path: Path, text: str) -> NotifyConfig:
    path = tmp_path / "notify.toml"
    path.write_text(text, encoding="utf-8")
    return load_notify_config(path)


@contextlib.asynccontextmanager
async def dispatching(
    tmp_path: Path, config: NotifyConfig, *, write_delay_s: float = 0.0, **kw: object
) -> AsyncIterator[Bench]:
    """A running dispatcher over a fresh database; stopped on exit."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "forewarn.db"
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    migrate(setup)
    setup.close()
    read_db = sqlite3.connect(path, isolation_level=None)
    clock = Clock()
    kw.setdefault("poll_s", 0.05)
    outbox = SlowOutbox(path, write_delay_s)
    dispatcher = Dispatcher(outbox, config, clock=clock, **kw)  # type: ignore[arg-type]
    task = asyncio.create_task(dispatcher.run())
    try:
        yield Bench(path, read_db, clock, dispatcher)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        read_db.close()


async def until(condition: Callable[[], object], timeout_s: float = 5.0, what: str = "") -> None:
    """Wait (really) until ``condition()`` holds; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what or condition}")
        await asyncio.sleep(0.02)
