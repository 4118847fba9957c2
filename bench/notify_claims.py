"""Notices a second through claiming dispatchers: N notices queued at once, D dispatcher processes
over one store (a SQLite file, or a fresh schema of PostgreSQL), one webhook receiver on
127.0.0.1 that answers at once; timed from the enqueue's commit to the last row marked delivered.
Also counts what arrived twice (it must be nothing) and each dispatcher's share.

Run: .venv/bin/python bench/notify_claims.py [--store sqlite|postgres] [--dispatchers D] [--notices N]
     [--concurrency C]   (see docs/benchmarks.md, notification claims)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify import EVENT_ID_HEADER, Dispatcher, load_notify_config, payload_of
from forewarn.store.migrate import migrate as sqlite_migrate
from forewarn.store.notice_outbox import open_notice_outbox
from forewarn.store.postgres.migrate import migrate as pg_migrate

PG = os.environ.get("FOREWARN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def worker(url: str, config: str, owner: str) -> None:
    async def main() -> None:
        d = Dispatcher(open_notice_outbox(url), load_notify_config(Path(config)), owner=owner, poll_s=0.05)
        task = asyncio.create_task(d.run())
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await asyncio.sleep(0)
        print("ready", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


def receiver() -> tuple[ThreadingHTTPServer, Counter[int]]:
    got: Counter[int] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                got[int(self.headers[EVENT_ID_HEADER])] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def notice(alarm_id: int) -> AlarmNotice:
    return AlarmNotice(alarm_id=alarm_id, event="fired", rule_id="gas.lel.high", rule_version=1, level=1,
                       colour="red", state="open", mn="451202A1FE00000000000001", site="储配站", enterprise="x",
                       region_code="451202", region_name="金城江区", at="2026-12-02T08:00:00+08:00",
                       explanation_zh="可燃气体浓度 45.2 %LEL", explanation_en="combustible gas 45.2 %LEL")


def run(store: str, dispatchers: int, notices: int, concurrency: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    schema = None
    if store == "sqlite":
        path = tmp / "forewarn.db"
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        sqlite_migrate(db)
        db.close()
        url = f"sqlite:///{path}"
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        url = f"{PG}?options=-csearch_path%3D{schema}"
        with psycopg.connect(url, autocommit=True) as conn:
            pg_migrate(conn)
    server, got = receiver()
    config = tmp / "notify.toml"
    config.write_text(f'[[channel]]\nname = "c"\nkind = "webhook"\nurl = "http://127.0.0.1:{server.server_address[1]}/"'
                      f'\nsecret = "s"\n\n[[route]]\nchannels = ["c"]\n\n[delivery]\n'
                      f'per_channel_concurrency = {concurrency}\n', encoding="utf-8")
    procs = []
    for n in range(dispatchers):
        p = subprocess.Popen([sys.executable, __file__, "--worker", url, str(config), f"d{n}"],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        procs.append(p)
    outbox = open_notice_outbox(url)
    try:
        rows = [(i, "fired", payload_of(notice(i))) for i in range(1, notices + 1)]
        began = time.perf_counter()
        if store == "sqlite":  # one transaction, as a batch's alarms are queued
            db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            for alarm, event, payload in rows:
                db.execute("INSERT INTO outbox (channel, alarm_id, event, payload, created_ms, next_attempt_ms) "
                           "VALUES ('c', ?, ?, ?, ?, ?)", (alarm, event, payload, int(time.time() * 1000),
                                                            int(time.time() * 1000)))
            db.execute("COMMIT")
            db.close()
        else:
            with psycopg.connect(url) as conn:
                now = int(time.time() * 1000)
                conn.cursor().executemany(
                    "INSERT INTO outbox (channel, alarm_id, event, payload, created_ms, next_attempt_ms) "
                    "VALUES ('c', %s, %s, %s, %s, %s)", [(a, e, p, now, now) for a, e, p in rows])
        queued = time.perf_counter()
        while outbox.pending_count():
            time.sleep(0.01)
        done = time.perf_counter()
        share = Counter(i.claimed_by for i in outbox.items())
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        outbox.close()
        server.shutdown()
        if schema is not None:
            with psycopg.connect(PG, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")
    twice = sum(1 for c in got.values() if c > 1)
    print(f"{store}: {dispatchers} dispatcher(s), {notices} notices, {concurrency} in flight each: "
          f"{notices / (done - queued):.0f} notices/s ({done - queued:.2f} s after the enqueue's "
          f"{queued - began:.2f} s); received {sum(got.values())}, {twice} twice; share {dict(sorted(share.items()))}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(*sys.argv[2:5])
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--dispatchers", type=int, default=2)
    ap.add_argument("--notices", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    run(a.store, a.dispatchers, a.notices, a.concurrency)
