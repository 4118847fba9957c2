"""The outbox: queued with the caller's transaction, due in order, marked once, given up."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify import outbox
from forewarn.alarms.notify.policy import DeliveryPolicy
from forewarn.store.migrate import migrate


def notice(alarm_id: int = 7, event: str = "fired", **kw: object) -> AlarmNotice:
    values: dict[str, object] = dict(
        alarm_id=alarm_id, event=event, rule_id="gas.lel.high", rule_version=2, level=1, colour="red",
        state="open", mn="451202A1FE00000000000001", site="储配站", enterprise="河池市液化石油气公司",
        region_code="451202", region_name="金城江区", at="2026-11-22T08:00:00+08:00",
        explanation_zh="可燃气体浓度 45.2 %LEL，超过 25 %LEL", explanation_en="combustible gas 45.2 %LEL, over 25 %LEL",
    )
    values.update(kw)
    return AlarmNotice(**values)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "forewarn.db", isolation_level=None)
    migrate(conn)
    yield conn
    conn.close()


def test_enqueue_writes_one_row_per_channel_due_at_once(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["hook", "sms", "hook"], now_ms=1000)
    items = outbox.due(db, 1000, 10)
    assert [i.channel for i in items] == ["hook", "sms"]
    assert all(i.attempts == 0 and i.next_attempt_ms == 1000 and i.alarm_id == 7 for i in items)
    assert items[0].notice() == notice()
    assert outbox.pending_count(db) == 2


def test_enqueue_joins_the_callers_transaction_and_rolls_back_with_it(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    outbox.enqueue(db, notice(), ["hook"], now_ms=1000)
    assert db.in_transaction  # enqueue neither committed nor began anything of its own
    db.execute("ROLLBACK")
    assert outbox.pending_count(db) == 0


def test_due_respects_the_time_the_limit_the_channel_and_exclusions(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(1), ["a", "b"], now_ms=1000)
    outbox.enqueue(db, notice(2), ["a"], now_ms=2000)
    assert outbox.due(db, 999, 10) == []
    assert [i.alarm_id for i in outbox.due(db, 5000, 10, channel="a")] == [1, 2]
    first = outbox.due(db, 5000, 1, channel="a")[0]
    assert [i.alarm_id for i in outbox.due(db, 5000, 10, channel="a", exclude_ids=[first.id])] == [2]
    assert outbox.due(db, 5000, 0) == []


def test_a_failed_row_waits_for_its_next_attempt_and_keeps_the_error(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["hook"], now_ms=1000)
    item = outbox.due(db, 1000, 10)[0]
    outbox.mark_failed(db, item.id, 1500, "HTTP 503", next_attempt_ms=6500)
    assert outbox.due(db, 6499, 10) == []
    again = outbox.due(db, 6500, 10)[0]
    assert (again.attempts, again.last_error) == (1, "HTTP 503")
    assert outbox.pending_attempts(db, [item.id]) == {item.id: 1}


def test_delivered_and_given_up_rows_leave_the_queue_once(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["hook", "mail"], now_ms=1000)
    hook, mail = outbox.due(db, 1000, 10)
    outbox.mark_delivered(db, hook.id, 1200)
    outbox.mark_failed(db, mail.id, 1300, "refused", next_attempt_ms=None)
    outbox.mark_failed(db, hook.id, 1400, "late failure", next_attempt_ms=9000)  # no effect: delivered
    assert outbox.due(db, 10**12, 10) == [] and outbox.pending_count(db) == 0
    rows = db.execute("SELECT channel, attempts, delivered_ms, given_up_ms, last_error FROM outbox ORDER BY id")
    assert rows.fetchall() == [("hook", 1, 1200, None, ""), ("mail", 1, None, 1300, "refused")]
    assert outbox.pending_attempts(db, [hook.id, mail.id]) == {}


def test_rows_of_channels_no_longer_configured_are_given_up(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["kept", "removed"], now_ms=1000)
    assert outbox.give_up_stranded(db, ["kept"], 2000) == 1
    assert [i.channel for i in outbox.due(db, 2000, 10)] == ["kept"]
    error = db.execute("SELECT last_error FROM outbox WHERE channel = 'removed'").fetchone()[0]
    assert "removed" in error and "no longer configured" in error


def test_a_payload_from_an_older_release_still_makes_a_notice(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["hook"], now_ms=1000)
    db.execute("UPDATE outbox SET payload = json_set(json_remove(payload, '$.url'), '$.gone', 1)")
    assert outbox.due(db, 1000, 1)[0].notice() == notice(url="")
    db.execute("UPDATE outbox SET payload = '{\"alarm_id\": 1}'")
    with pytest.raises(ValueError, match="not a notice"):
        outbox.due(db, 1000, 1)[0].notice()


def test_backoff_doubles_from_five_seconds_to_an_hour_then_gives_up() -> None:
    policy = DeliveryPolicy()
    assert [policy.delay_s(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert policy.delay_s(20) == 3600 and policy.delay_s(10**6) == 3600
    assert policy.next_attempt_ms(1, created_ms=0, now_ms=1000) == 6000
    day = 86_400_000
    assert policy.next_attempt_ms(30, created_ms=0, now_ms=day - 3_600_000) == day
    assert policy.next_attempt_ms(30, created_ms=0, now_ms=day - 3_599_999) is None
    assert DeliveryPolicy(max_attempts=3).next_attempt_ms(3, created_ms=0, now_ms=0) is None
