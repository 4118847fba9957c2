"""``forewarn store migrate``: a real embedded installation moved into the real PostgreSQL.

The installation is made once by the real platform: a registry import, users, API and device
tokens, a dashboard login, HJ 212 packets over TCP (a gas leak that raises an alarm with its
steps and evidence, a packet from an unknown MN into quarantine, a wrong password rejected),
forwarding towards a provincial platform that is down (so the outbox holds rows), then a few
thousand readings of every kind written through the store. Each test copies that file and
moves it into a fresh PostgreSQL schema, and compares every table's rows, not only counts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from forewarn.access.users import create_user, issue_api_token, issue_device_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.cli import main
from forewarn.model import Kind
from forewarn.store import forwarding
from forewarn.store.base import IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from forewarn.store.transfer import Interrupted, TransferError, transfer
from forewarn.store.transfer.source import SqliteSource
from tests.integration.harness import FakeDevice, data_packet, register, settings_for
from tests.pg import fresh_pg_schema

MN = "010000A8900016F000169DC0"
MN2 = "451202A1FE00000000000002"
PASSWORD = "correct horse battery staple"
T0 = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00
#: readings written through the store per kind and point, after the platform ran
BULK = 600


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def _lel(minute: int, value: float) -> bytes:
    hh, mm = divmod(minute, 60)
    return data_packet(MN, f"DataTime=20261122{8 + hh:02d}{mm:02d}00;GD1-LEL={value},GD1-Flag=N",
                       qn=f"20261122{8 + hh:02d}{mm:02d}00000")


async def _run_platform(settings: object, clock: Clock) -> None:
    platform = Platform(settings, clock=clock, http=True)  # type: ignore[arg-type]
    await platform.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}", timeout=10) as client:
            answer = await client.post("/api/v1/auth/login", json={"name": "city", "password": PASSWORD})
            assert answer.status_code == 200, answer.text
        dev = await FakeDevice.connect(platform.hj212_port)
        for minute, value in enumerate([0, 31.2, 5, 33, 60]):
            clock.ms = T0 + minute * 60_000
            await dev.send(_lel(minute, value))
            assert (await dev.answer()).cn == "9014"
        await dev.send(data_packet("UNKNOWN00000000000000001"))  # quarantined, answered: it is stored
        assert (await dev.answer()).cn == "9014"
        await dev.send(data_packet(MN2, pw="wrong"))
        await dev.answer()  # refused: counted among rejections
        await dev.close()
    finally:
        await platform.stop()


def _bulk(path: Path) -> None:
    """Readings of every kind written through the store, and the outbox partly delivered (so
    SQLite's AUTOINCREMENT has handed out ids no row holds any more)."""
    store = SqliteStore(path, Catalogue())
    try:
        devices = [row[0] for row in store.db.execute("SELECT id FROM devices ORDER BY id")]
        for kind in Kind:
            batch = IngestBatch(readings=[
                ReadingBatch(device, kind, [("a34002", "Avg" if kind != Kind.RTD else "Rtd",
                                             T0 - i * 60_000, round(20 + (i * 7919 % 1000) / 37, 3),
                                             "N" if i % 50 else "D") for i in range(BULK)])
                for device in devices])
            store.write(batch)
        store.db.execute("BEGIN IMMEDIATE")
        forwarding.delivered(store.db, "province", 5, 1, 5, T0, T0)
        store.db.execute("COMMIT")
    finally:
        store.close()


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("embedded")
    settings = settings_for(tmp, http_host="127.0.0.1", http_port=0)
    register(settings, tmp, [{"mn": MN}, {"mn": MN2, "site": "储配站二"}])
    store = SqliteStore(settings.db_path, Catalogue())
    try:
        kw = {"actor": "test", "origin": "test"}
        create_user(store.db, "city", PASSWORD, "city_admin", **kw)
        create_user(store.db, "hechi", PASSWORD, "district_admin", region_code="451202", **kw)
        issue_api_token(store.db, "hechi", **kw)
        device = store.db.execute("SELECT id FROM devices WHERE mn = ?", (MN2,)).fetchone()[0]
        issue_device_token(store.db, device, **kw)
    finally:
        store.close()
    (settings.data_dir / "forward.toml").write_text(
        '[[target]]\nname = "province"\nhost = "127.0.0.1"\nport = 9\npassword = "123456"\nst = "22"\n'
        'regions = ["451200"]\ntimeout_s = 1\n', encoding="utf-8")
    asyncio.run(_run_platform(settings, Clock(T0)))
    _bulk(settings.db_path)
    return settings.db_path


@pytest.fixture
def source(installation: Path, tmp_path: Path) -> Path:
    """A copy of the installation of this test's own (the backup API: one consistent file)."""
    path = tmp_path / "forewarn.db"
    with sqlite3.connect(installation) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    dst.close()
    src.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return path


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    yield from fresh_pg_schema()


def _tables(path: Path) -> dict[str, list[str]]:
    db = sqlite3.connect(path)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations'")]
        return {n: [r[1] for r in db.execute(f"PRAGMA table_info({n})")] for n in names}
    finally:
        db.close()


def _rows(path: Path, table: str, columns: list[str]) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        return sorted(db.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)
    finally:
        db.close()


def _pg_rows(dsn: str, table: str, columns: list[str]) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        cols = ", ".join(f'"{c}"' for c in columns)
        return sorted(conn.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)


def _assert_equal(source: Path, dsn: str) -> None:
    for table, columns in _tables(source).items():
        assert _pg_rows(dsn, table, columns) == _rows(source, table, columns), table


def test_every_table_is_copied_row_for_row_and_new_ids_follow_the_copied_ones(source: Path, pg_dsn: str) -> None:
    tables = _tables(source)
    filled = {t for t, cols in tables.items() if _rows(source, t, cols)}
    # the installation is a real one: the registry, readings of every kind, alarms with their
    # course, notices, users, sessions, tokens, audit, quarantine, rejections, rule state, outbox
    assert {"regions", "enterprises", "sites", "devices", "points", "users", "sessions", "api_tokens",
            "device_tokens", "audit_log", "quarantine", "rejections", "alarms", "alarm_steps", "alarm_evidence",
            "rule_state", "rule_versions", "forward_rules", "forward_outbox", "device_activity", "meta",
            *(f"readings_{k.value}" for k in Kind)} <= filled

    before = {t: _rows(source, t, cols) for t, cols in tables.items()}

    report = transfer(source, pg_dsn, chunk_rows=700)

    assert {t: _rows(source, t, cols) for t, cols in tables.items()} == before  # the source is only read
    assert not report.resumed and report.migrations and all(c.ok for c in report.checks)
    assert {c.table for c in report.checks} == set(tables)
    _assert_equal(source, pg_dsn)
    db = sqlite3.connect(source)
    outbox_seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'forward_outbox'").fetchone()[0]
    max_alarm = db.execute("SELECT max(id) FROM alarms").fetchone()[0]
    db.close()
    with psycopg.connect(pg_dsn) as conn:
        # a row added after the move gets an id after the copied ones (and after the outbox's
        # delivered, deleted rows: a sender reads on from the last id answered for)
        new_outbox = conn.execute("INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag) "
                                  "VALUES ('province', 1, 'rtd', 1, 'x', 'Rtd', 1, 'N') RETURNING id").fetchone()
        assert new_outbox is not None and new_outbox[0] == outbox_seq + 1
        nextval = conn.execute("SELECT nextval(pg_get_serial_sequence('alarms', 'id'))").fetchone()
        assert nextval is not None and nextval[0] == max_alarm + 1
        # the readings sit in their month partitions, not in the DEFAULT one
        default = conn.execute("SELECT count(*) FROM readings_minute_default").fetchone()
        assert default is not None and default[0] == 0


def test_the_forwarding_trigger_does_not_enqueue_the_copied_readings_again(source: Path, pg_dsn: str) -> None:
    db = sqlite3.connect(source)
    (outbox,) = db.execute("SELECT count(*) FROM forward_outbox").fetchone()
    db.close()
    transfer(source, pg_dsn, chunk_rows=5000)
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM forward_outbox").fetchone()
        assert row is not None and row[0] == outbox > 0
        # the trigger is in place for what the platform stores from now on
        point = conn.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id "
                             "JOIN forward_rules f ON f.device_id = d.id LIMIT 1").fetchone()
        assert point is not None
        conn.execute("INSERT INTO readings_rtd (point_id, ts, value, flag) VALUES (%s, %s, 1.5, 'N')",
                     (point[0], T0 + 86_400_000))
        row = conn.execute("SELECT count(*) FROM forward_outbox").fetchone()
        assert row is not None and row[0] == outbox + 1


def _primary_key(dsn: str, table: str) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                           (table,)).fetchone()
    return row is not None and row[0] == 1


def test_an_interrupted_copy_resumes_where_it_stopped_and_copies_nothing_twice(source: Path, pg_dsn: str) -> None:
    # stopped in the middle of readings_minute: 2 of its 4 chunks (2 devices x 600 rows) copied
    snapshot = SqliteSource(source)
    try:
        chunks_before = 0
        for table in snapshot.tables:
            if table.name == "readings_minute":
                break
            chunks_before += -(-snapshot.summary(table).rows // 300)
    finally:
        snapshot.close()
    with pytest.raises(Interrupted):
        transfer(source, pg_dsn, chunk_rows=300, stop_after_chunks=chunks_before + 2)
    with psycopg.connect(pg_dsn) as conn:
        partial = conn.execute("SELECT sum(rows_copied), count(*) FILTER (WHERE done) FROM store_transfer").fetchone()
        minute = conn.execute("SELECT rows_copied, done FROM store_transfer WHERE table_name = 'readings_minute'"
                              ).fetchone()
    assert partial is not None and partial[0] > 0
    assert minute == (600, False) and not _primary_key(pg_dsn, "readings_minute")  # built at the end

    report = transfer(source, pg_dsn, chunk_rows=300)

    assert report.resumed and all(c.ok for c in report.checks)
    total = sum(c.source.rows for c in report.checks)
    assert report.rows_copied == total - partial[0]  # only what the first run had not committed
    _assert_equal(source, pg_dsn)
    assert all(_primary_key(pg_dsn, f"readings_{kind.value}") for kind in Kind)


def test_a_copy_killed_mid_way_resumes_from_the_command_line(source: Path, pg_dsn: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = ["store", "migrate", "--from", f"sqlite:///{source}", "--to", pg_dsn, "--chunk-rows", "40", "--quiet"]
    child = subprocess.Popen([sys.executable, "-m", "forewarn", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 30
        copied = 0
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            while copied < 2000:  # a few dozen chunks are committed: kill it mid-table
                assert child.poll() is None, "the copy ended before it could be killed"
                assert time.monotonic() < deadline, "the copy made no progress"
                try:
                    row = conn.execute("SELECT coalesce(sum(rows_copied), 0) FROM store_transfer").fetchone()
                    copied = int(row[0]) if row else 0
                except psycopg.errors.UndefinedTable:
                    copied = 0
                time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    args[args.index("--chunk-rows") + 1] = "5000"  # the chunks' size is no part of the position
    assert main(args) == 0

    out = capsys.readouterr().out
    assert "resumed: copied" in out and "verified:" in out
    _assert_equal(source, pg_dsn)
    assert main(args) == 0
    assert "already done" in capsys.readouterr().out


def test_a_source_that_changed_since_the_interrupted_run_is_not_resumed(source: Path, pg_dsn: str) -> None:
    with pytest.raises(Interrupted):
        transfer(source, pg_dsn, chunk_rows=300, stop_after_chunks=3)
    db = sqlite3.connect(source)
    db.execute("INSERT INTO readings_hour (point_id, ts, value, flag) VALUES (1, 1, 1.0, 'N')")
    db.commit()
    db.close()
    with pytest.raises(TransferError, match="the source changed since the interrupted copy .*readings_hour"):
        transfer(source, pg_dsn)


def test_a_source_in_use_by_a_running_platform_is_refused(source: Path, pg_dsn: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import sqlite3, sys, time; db = sqlite3.connect({str(source)!r}); "
                               "db.execute('SELECT count(*) FROM devices').fetchall(); print('open', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        assert main(["store", "migrate", "--from", f"sqlite:///{source}", "--to", pg_dsn, "--quiet"]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"pid {holder.pid}" in err and "stop it first" in err


def test_a_target_holding_other_data_is_refused(source: Path, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(TransferError, match="not forewarn's .*invoices"):
        transfer(source, pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE invoices")
    transfer(source, pg_dsn)  # now a forewarn schema; a platform then writes into it
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE store_transfer_run")
        conn.execute("DROP TABLE store_transfer")
    with pytest.raises(TransferError, match="already holds forewarn data"):
        transfer(source, pg_dsn)


def test_wrong_urls_are_one_line(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, said in [
        (["--from", f"sqlite:///{source}", "--to", "mysql://root@localhost/db"], "--to must be postgresql://"),
        (["--from", str(source), "--to", "postgresql://postgres@127.0.0.1:5432/test"], "--from must be sqlite:///"),
        (["--from", f"sqlite:///{tmp_path / 'none.db'}", "--to", "postgresql://postgres@127.0.0.1:5432/test"],
         "no SQLite database at"),
        (["--from", f"sqlite:///{source}", "--to", "postgresql://postgres@127.0.0.1:1/test"],
         "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/test"),
    ]:
        assert main(["store", "migrate", *args, "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("forewarn: error: ") and said in err, err
