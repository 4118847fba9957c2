"""The engine's state advances only with a committed batch: a batch not stored is judged afresh."""

from __future__ import annotations

import json

from forewarn.model import Kind
from forewarn.rules.engine import Engine
from forewarn.rules.inflight import Journal
from forewarn.store.base import IngestBatch, ReadingBatch
from tests.unit.test_rule_engine import MIN, T0, brief, engine


def lel(minute: float, *values: float) -> IngestBatch:
    """One batch of the gas detector's %LEL: each value at the same time (minute offset)."""
    ts = T0 + int(minute * MIN)
    return IngestBatch(readings=[ReadingBatch(1, Kind.RTD, [("GD1", "LEL", ts, v, "N") for v in values])])


def judged(eng: Engine, batch: IngestBatch) -> Journal:
    journal = eng.judge(batch, batch.readings[0].rows[0][2])
    assert journal is not None
    return journal


def test_a_batch_not_stored_leaves_no_alarm_believed_live_and_its_resend_fires() -> None:
    eng = engine()
    assert brief(judged(eng, lel(0, 0)).settle(None) or []) == []
    leak = lel(1, 30)
    first = judged(eng, leak)
    assert brief(leak.rule_events) == [("gas.lel", "fire", 1, 1)]
    first.settle(RuntimeError("the commit failed"))  # never recorded, never announced
    resend = lel(1, 30)
    judged(eng, resend).settle(None)
    assert brief(resend.rule_events) == [("gas.lel", "fire", 1, 1)]  # raised now, once
    assert len(eng.inflight) == 0


def test_later_batches_built_on_a_failed_one_are_undone_with_it() -> None:
    eng = engine()
    eng.on_batch(lel(0, 0), T0)
    fired, higher = lel(1, 30), lel(2, 55)
    first, second = judged(eng, fired), judged(eng, higher)
    assert brief(fired.rule_events + higher.rule_events) == [("gas.lel", "fire", 1, 1), ("gas.lel", "fire", 2, 2)]
    # the writer fails both (the second was judged on the first); callbacks come in order
    first.settle(RuntimeError("not stored"))
    second.settle(RuntimeError("judged on a batch that could not be stored"))
    again = lel(1, 30)
    eng.on_batch(again, T0 + MIN)
    assert brief(again.rule_events) == [("gas.lel", "fire", 1, 1)]


def test_a_failed_batch_after_a_committed_one_goes_back_to_the_committed_state() -> None:
    eng = engine()
    eng.on_batch(lel(0, 0), T0)
    fired = judged(eng, lel(1, 30))
    cleared = lel(2, 10)
    undone = judged(eng, cleared)
    assert brief(cleared.rule_events) == [("gas.lel", "clear", 0, 2)]
    fired.settle(None)
    undone.settle(RuntimeError("not stored"))
    # the alarm committed is still live: the clear is judged again when the reading comes back
    resend = lel(2, 10)
    eng.on_batch(resend, T0 + 2 * MIN)
    assert brief(resend.rule_events) == [("gas.lel", "clear", 0, 2)]


def test_an_undone_batch_is_saved_again_at_the_next_checkpoint() -> None:
    eng = engine()
    eng.on_batch(lel(0, 0), T0)
    eng.checkpoint(IngestBatch())
    judged(eng, lel(1, 30)).settle(RuntimeError("not stored"))
    saved = IngestBatch()
    eng.checkpoint(saved)
    # what the store holds again is the state before the failed batch: no alarm, judged up to T0
    assert json.loads(saved.rule_states[("gas.lel", "GAS01/GD1-LEL")]).get("lv", 0) == 0
    assert json.loads(saved.rule_states[("_seen", "GAS01/GD1-LEL/rtd")]) == {"t": T0}


def test_a_second_value_for_the_same_point_and_time_is_not_judged() -> None:
    eng = engine()
    eng.on_batch(lel(0, 0), T0)
    # two sources in the same second: the store keeps the first (10), so 30 must not fire
    twice = lel(1, 10, 30)
    eng.on_batch(twice, T0 + MIN)
    assert twice.rule_events == [] and twice.counters["readings_not_judged_repeated"] == 1
    resent = lel(1, 30)  # a later batch with the same point and time: the same
    eng.on_batch(resent, T0 + MIN)
    assert resent.rule_events == [] and resent.counters["readings_not_judged_repeated"] == 1
    later = lel(2, 30)
    eng.on_batch(later, T0 + 2 * MIN)
    assert brief(later.rule_events) == [("gas.lel", "fire", 1, 2)]


def test_a_repeat_depends_on_the_batch_that_brought_the_first_value() -> None:
    eng = engine()
    eng.on_batch(lel(0, 0), T0)
    first = judged(eng, lel(1, 30))
    repeat = judged(eng, lel(1, 30))
    assert repeat.keys & first.keys  # the writer fails the repeat if the first fails
    first.settle(RuntimeError("not stored"))
    repeat.settle(RuntimeError("judged on a batch that could not be stored"))
    resend = lel(1, 30)
    eng.on_batch(resend, T0 + MIN)
    assert brief(resend.rule_events) == [("gas.lel", "fire", 1, 1)]


def test_silence_not_stored_is_judged_again() -> None:
    eng = engine()
    found = eng.silence(T0 + 10 * MIN, {1: T0})
    assert found is not None
    batch, journal = found
    assert journal is not None and any(e.rule_id == "dq.nodata" for e in batch.rule_events)
    journal.settle(RuntimeError("not stored"))
    again = eng.check_silence(T0 + 11 * MIN, {1: T0})
    assert again is not None and any(e.rule_id == "dq.nodata" for e in again.rule_events)
