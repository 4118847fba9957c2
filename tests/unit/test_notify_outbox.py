"""The outbox from the alarms' side: queued with the caller's transaction, a notice in and out of a row.

Claims, outcomes and the rest of the repository are the contract suite's
(tests/contract/test_notice_outbox.py), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify import outbox
from forewarn.alarms.notify.policy import DeliveryPolicy
from forewarn.store.migrate import migrate
from forewarn.store.notice_outbox import OutboxItem


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
    ids = outbox.enqueue(db, notice(), ["hook", "sms", "hook"], now_ms=1000)
    rows = db.execute("SELECT id, channel, attempts, next_attempt_ms, alarm_id FROM outbox ORDER BY id").fetchall()
    assert rows == [(ids[0], "hook", 0, 1000, 7), (ids[1], "sms", 0, 1000, 7)]


def test_enqueue_joins_the_callers_transaction_and_rolls_back_with_it(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    outbox.enqueue(db, notice(), ["hook"], now_ms=1000)
    assert db.in_transaction  # enqueue neither committed nor began anything of its own
    db.execute("ROLLBACK")
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def _item(db: sqlite3.Connection) -> OutboxItem:
    row = db.execute("SELECT id, channel, alarm_id, event, payload, created_ms, attempts, next_attempt_ms, "
                     "last_error FROM outbox ORDER BY id LIMIT 1").fetchone()
    return OutboxItem(*row)


def test_a_queued_notice_comes_back_as_it_was(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["hook"], now_ms=1000)
    assert outbox.notice_of(_item(db)) == notice()


def test_a_payload_from_an_older_release_still_makes_a_notice(db: sqlite3.Connection) -> None:
    outbox.enqueue(db, notice(), ["hook"], now_ms=1000)
    db.execute("UPDATE outbox SET payload = json_set(json_remove(payload, '$.url'), '$.gone', 1)")
    assert outbox.notice_of(_item(db)) == notice(url="")
    db.execute("UPDATE outbox SET payload = '{\"alarm_id\": 1}'")
    with pytest.raises(ValueError, match="not a notice"):
        outbox.notice_of(_item(db))
    db.execute("UPDATE outbox SET payload = '[1'")
    with pytest.raises(ValueError, match="holds no JSON"):
        outbox.notice_of(_item(db))


def test_backoff_doubles_from_five_seconds_to_an_hour_then_gives_up() -> None:
    policy = DeliveryPolicy()
    assert [policy.delay_s(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert policy.delay_s(20) == 3600 and policy.delay_s(10**6) == 3600
    assert policy.next_attempt_ms(1, created_ms=0, now_ms=1000) == 6000
    day = 86_400_000
    assert policy.next_attempt_ms(30, created_ms=0, now_ms=day - 3_600_000) == day
    assert policy.next_attempt_ms(30, created_ms=0, now_ms=day - 3_599_999) is None
    assert DeliveryPolicy(max_attempts=3).next_attempt_ms(3, created_ms=0, now_ms=0) is None
