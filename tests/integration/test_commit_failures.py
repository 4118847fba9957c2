"""Commits that fail, on real SQLite files: what can pass is retried without holding the writer
up, what cannot fails at once, and no alarm is believed in that was never recorded."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter
from tests.integration.harness import FakeDevice, eventually, register, settings_for
from tests.integration.test_alarm_field_fixes import Clock, dead_webhook, lel, notices, platform_at, query

MN = "451202A1FE00000000000077"
T0 = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00


class Calls:
    """Callbacks of the writer, as a test waits for them."""

    def __init__(self) -> None:
        self.results: dict[str, BaseException | None] = {}
        self.order: list[str] = []
        self.changed = threading.Condition()

    def note(self, name: str):  # type: ignore[no-untyped-def]
        def record(error: BaseException | None) -> None:
            with self.changed:
                self.results[name] = error
                self.order.append(name)
                self.changed.notify_all()
        return record

    def wait(self, *names: str, timeout: float = 10.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: all(n in self.results for n in names), timeout)


def reading(device_id: int, minute: int, value: float) -> IngestBatch:
    return IngestBatch(readings=[ReadingBatch(device_id, Kind.RTD, [("a34002", "Rtd", T0 + minute * 60_000, value, "N")])])


def test_an_error_that_cannot_pass_is_not_retried_and_is_told_at_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    store = SqliteStore(settings.db_path, Catalogue())
    device_id = store.device_infos()[MN].id
    attempts: list[int] = []

    def refuse_minute_one(db: sqlite3.Connection, batch: IngestBatch) -> None:
        if any(row[2] == T0 + 60_000 for r in batch.readings for row in r.rows):
            attempts.append(1)
            raise ValueError("a bug in a batch hook")

    store.batch_hooks.append(refuse_minute_one)
    calls = Calls()
    writer: BatchWriter[SqliteStore] = BatchWriter(store)
    writer.start()
    try:
        started = time.monotonic()
        writer.submit(reading(device_id, 1, 1.0), calls.note("bad"))
        calls.wait("bad")
        assert isinstance(calls.results["bad"], ValueError)
        assert time.monotonic() - started < 0.2  # no pause: the first retry would come after 0.2 s
        assert attempts == [1] and writer.retries == 0 and writer.failed["error"] == 1
        writer.submit(reading(device_id, 2, 2.0), calls.note("good"))
        calls.wait("good")
        assert calls.results["good"] is None
    finally:
        writer.close()
    assert [r.value for r in store.readings(MN, Kind.RTD)] == [2.0]
    store.close()


def test_a_lock_held_by_another_connection_is_waited_out_while_jobs_run(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    store = SqliteStore(settings.db_path, Catalogue())
    store.db.execute("PRAGMA busy_timeout=50")  # the lock is found at once, not after 10 s
    device_id = store.device_infos()[MN].id
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing (a registry import, say)
    calls = Calls()
    job_ran = threading.Event()
    writer: BatchWriter[SqliteStore] = BatchWriter(store)
    writer.start()
    try:
        writer.submit(reading(device_id, 1, 1.0), calls.note("locked"))
        writer.submit(reading(device_id, 2, 2.0), calls.note("behind"))
        writer.submit_job(lambda _: job_ran.set())
        assert job_ran.wait(5)  # the writer serves jobs while the batch waits for its retry
        assert calls.results == {} and writer.retries >= 1
        other.execute("COMMIT")
        calls.wait("locked", "behind")
        assert calls.results == {"locked": None, "behind": None}
        assert calls.order == ["locked", "behind"]  # in order: the later batch waited behind
        assert writer.failed == {}
    finally:
        other.close()
        writer.close()
    assert [r.value for r in store.readings(MN, Kind.RTD)] == [1.0, 2.0]  # each once
    store.close()


def test_a_lock_that_does_not_pass_gives_the_batch_up_after_the_last_retry(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    store = SqliteStore(settings.db_path, Catalogue())
    store.db.execute("PRAGMA busy_timeout=20")
    device_id = store.device_infos()[MN].id
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    calls = Calls()
    writer: BatchWriter[SqliteStore] = BatchWriter(store, retry_pauses_s=(0.05, 0.05))
    writer.start()
    try:
        writer.submit(reading(device_id, 1, 1.0), calls.note("locked"))
        calls.wait("locked")
        assert isinstance(calls.results["locked"], sqlite3.OperationalError)
        assert writer.retries == 2 and writer.failed["retries"] == 1
    finally:
        other.close()
        writer.close()
    store.close()


def test_a_batch_judged_on_a_failed_one_fails_with_it_and_a_checkpoint_drops_its_state(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    store = SqliteStore(settings.db_path, Catalogue())
    device_id = store.device_infos()[MN].id

    def refuse_minute_one(db: sqlite3.Connection, batch: IngestBatch) -> None:
        if any(row[2] == T0 + 60_000 for r in batch.readings for row in r.rows):
            raise ValueError("refused")

    store.batch_hooks.append(refuse_minute_one)
    calls = Calls()
    key = ("gas.lel", f"{MN}/a34002-Rtd")
    checkpoint = IngestBatch(rule_states={key: '{"lv":1}', ("gas.lel", "other"): '{"lv":0}'})
    writer: BatchWriter[SqliteStore] = BatchWriter(store)
    writer.submit(reading(device_id, 1, 1.0), calls.note("failed"), frozenset({key}))
    writer.submit(reading(device_id, 2, 2.0), calls.note("built_on"), frozenset({key}))
    writer.submit(reading(device_id, 3, 3.0), calls.note("free"), frozenset({("gas.lel", "elsewhere")}))
    writer.submit(checkpoint, calls.note("checkpoint"))
    writer.release(frozenset({key}))  # the engine has undone the failed batch
    writer.submit(reading(device_id, 4, 4.0), calls.note("after"), frozenset({key}))
    writer.start()
    try:
        calls.wait("failed", "built_on", "free", "checkpoint", "after")
    finally:
        writer.close()
    assert isinstance(calls.results["failed"], ValueError)
    assert calls.results["built_on"] is not None and writer.failed["built_on_failed"] == 1
    assert calls.results["free"] is None and calls.results["checkpoint"] is None and calls.results["after"] is None
    assert [r.value for r in store.readings(MN, Kind.RTD)] == [3.0, 4.0]
    assert set(store.rule_states()) == {("gas.lel", "other")}  # the failed batch's state was not saved
    store.close()


GAS = {"mn": MN, "site": "储配站"}


def test_a_commit_that_fails_leaves_no_alarm_believed_live_and_the_resend_raises_it_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [GAS])
    dead_webhook(settings)
    clock = Clock(T0)
    refused = threading.Event()

    def refuse_once(db: sqlite3.Connection, batch: IngestBatch) -> None:
        if batch.rule_events and not refused.is_set():
            refused.set()
            raise ValueError("the alarm's transaction failed (a hook's bug)")

    async def scenario() -> None:
        async with platform_at(settings, clock) as platform:
            assert platform.write_store is not None and platform.alarms is not None
            engine = platform.alarms.engine
            assert engine is not None
            platform.write_store.batch_hooks.insert(0, refuse_once)
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(lel(MN, 0, 0))
            assert (await dev.answer()).cn == "9014"
            clock.ms = T0 + 30_000
            await dev.send(lel(MN, 30, 31.0))  # a leak: its commit fails, the device is not answered
            await eventually(lambda: engine.inflight.undone == 1)
            assert query(settings, "SELECT id FROM alarms") == []
            await dev.send(lel(MN, 30, 31.0))  # the device's resend
            assert (await dev.answer()).cn == "9014"
            await dev.close()

    asyncio.run(scenario())
    assert query(settings, "SELECT rule_id, repeats FROM alarms") == [("gas.lel", 0)]
    assert [(event, headline) for event, headline, _ in notices(settings)] == [("fired", "新告警")]
