"""Retention on real parts: raw real-time rows older than the retention go (in small pieces),
newer ones and every aggregate stay, nothing waiting to be aggregated is deleted, and a late
reading for a retired time does not recompute a minute from partial data."""

from __future__ import annotations

from pathlib import Path

from forewarn.model import Period
from forewarn.stats.retention import Retention
from forewarn.store.aggregates import mark_dirty
from tests.integration.test_aggregation import DAY, Bench, H, M

D = 86_400_000


def rtd_times(bench: Bench) -> list[int]:
    return [r[0] for r in bench.store.db.execute("SELECT ts FROM readings_rtd ORDER BY ts")]


def ten_days(bench: Bench) -> None:
    """Ten days, a value every 10 minutes (1,440 rows), aggregated; the clock at the end of day 10."""
    bench.send([(DAY + n * 10 * M, 30.0, "N") for n in range(10 * 144)])
    bench.now_ms = DAY + 10 * D
    bench.drain()


def test_old_raw_rows_go_and_aggregates_stay(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    ten_days(bench)
    before = {p: bench.rows(p) for p in Period}
    keep = Retention(3, clock=lambda: bench.now_ms / 1000, rows_per_piece=100)
    steps = 1
    while keep.step(bench.store.db, seconds=0):  # one piece a step, as a writer job does under load
        steps += 1
    assert steps > 1008 // 100  # 1,008 rows to go, never more than 100 in one piece
    assert rtd_times(bench) == [DAY + n * 10 * M for n in range(7 * 144, 10 * 144)]  # the last 3 days
    assert keep.deleted == 7 * 144
    assert {p: bench.rows(p) for p in Period} == before  # every minute, hour, day and month kept
    bench.store.close()


def test_nothing_waiting_to_be_aggregated_is_deleted(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    ten_days(bench)
    bench.store.run_in_transaction(lambda db: mark_dirty(db, [(bench.point, DAY + 2 * D, DAY + 2 * D + H)]))
    keep = Retention(3, clock=lambda: bench.now_ms / 1000)
    while keep.step(bench.store.db):
        pass
    assert rtd_times(bench)[0] == DAY + 2 * D  # kept from the queued range on
    bench.drain()  # the range is aggregated; the next pass goes on to the retention
    while keep.step(bench.store.db):
        pass
    assert rtd_times(bench)[0] == DAY + 7 * D
    bench.store.close()


def test_a_late_reading_for_a_retired_time_keeps_its_minute_as_computed(tmp_path: Path) -> None:
    bench = Bench(tmp_path)
    ten_days(bench)
    keep = Retention(3, clock=lambda: bench.now_ms / 1000)
    while keep.step(bench.store.db):
        pass
    minute = bench.rows(Period.MINUTE)[DAY + D]
    bench.send([(DAY + D + 5_000, 900.0, "N")])  # late, into a minute whose raw data is gone
    bench.drain()
    assert bench.rows(Period.MINUTE)[DAY + D] == minute
    bench.store.close()
