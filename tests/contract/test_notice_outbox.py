"""The notification outbox's contract, on SQLite and on PostgreSQL: queued, claimed by one
dispatcher at a time, taken over after a lease, released by its outcome, given up once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from forewarn.store.migrate import migrate as sqlite_migrate
from forewarn.store.notice_outbox import NoticeOutbox, OutboxError, Outcome, SqliteNoticeOutbox, open_notice_outbox
from forewarn.store.postgres.migrate import migrate as pg_migrate
from forewarn.store.postgres.notice_outbox import PostgresNoticeOutbox

Opener = Callable[[], NoticeOutbox]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens outboxes (each its own connection, as separate dispatchers have) over one fresh database."""
    opened: list[NoticeOutbox] = []
    if request.param == "sqlite":
        import sqlite3

        path = tmp_path / "forewarn.db"
        with sqlite3.connect(path, isolation_level=None) as db:
            db.execute("PRAGMA journal_mode=WAL")
            sqlite_migrate(db)
        db.close()

        def make() -> NoticeOutbox:
            opened.append(SqliteNoticeOutbox(path))
            return opened[-1]
    else:
        dsn: str = request.getfixturevalue("pg_dsn")
        with psycopg.connect(dsn, autocommit=True) as conn:
            pg_migrate(conn)

        def make() -> NoticeOutbox:
            opened.append(PostgresNoticeOutbox(dsn))
            return opened[-1]

    yield make
    for outbox in opened:
        outbox.close()


@pytest.fixture
def outbox(opener: Opener) -> NoticeOutbox:
    return opener()


LEASE = 60_000


def queue(outbox: NoticeOutbox, alarm_id: int, channels: list[str], now_ms: int) -> list[int]:
    return outbox.enqueue(alarm_id, "fired", f'{{"alarm_id": {alarm_id}}}', channels, now_ms)


def test_a_notice_is_queued_once_per_channel_and_due_at_once(outbox: NoticeOutbox) -> None:
    ids = queue(outbox, 7, ["hook", "sms", "hook"], 1000)
    assert len(ids) == 2 and outbox.pending_count() == 2
    hook, sms = outbox.items(ids)
    assert (hook.channel, sms.channel) == ("hook", "sms")
    assert hook.attempts == 0 and hook.next_attempt_ms == 1000 and hook.payload == '{"alarm_id": 7}'
    assert hook.claimed_by is None and hook.pending
    assert [i.id for i in outbox.claim_due("a", "hook", 1000, 10, 1000 + LEASE)] == [ids[0]]


def test_claims_respect_the_time_the_channel_the_limit_and_the_order(outbox: NoticeOutbox) -> None:
    (late,) = queue(outbox, 1, ["a"], 2000)
    (early, other) = queue(outbox, 2, ["a", "b"], 1000)
    assert outbox.claim_due("d", "a", 999, 10, LEASE) == []
    assert outbox.claim_due("d", "a", 5000, 0, LEASE) == []
    assert [i.id for i in outbox.claim_due("d", "a", 5000, 1, LEASE)] == [early]  # the most overdue first
    assert [i.id for i in outbox.claim_due("d", "a", 5000, 10, LEASE)] == [late]  # the claimed one is not again
    assert [i.id for i in outbox.claim_due("d", "b", 5000, 10, LEASE)] == [other]
    (item,) = outbox.items([early])
    assert (item.claimed_by, item.lease_until_ms) == ("d", LEASE)


def test_a_claim_is_nobody_elses_until_its_lease_has_passed(opener: Opener) -> None:
    one, two = opener(), opener()
    (row,) = queue(one, 1, ["hook"], 1000)
    assert [i.id for i in one.claim_due("one", "hook", 1000, 5, 1000 + LEASE)] == [row]
    assert two.claim_due("two", "hook", 1000 + LEASE, 5, 2000 + LEASE) == []  # at the lease, still one's
    (taken,) = two.claim_due("two", "hook", 1001 + LEASE, 5, 1001 + 2 * LEASE)
    assert taken.id == row and taken.claimed_by == "two"
    # the first claimant, back too late, may not reschedule what "two" now holds ...
    assert one.mark_failed(row, "one", 1002 + LEASE, "HTTP 503", 9_000_000) is False
    (item,) = two.items([row])
    assert (item.claimed_by, item.attempts, item.last_error) == ("two", 0, "")
    # ... but what was delivered was delivered, whoever holds the row
    assert one.mark_delivered(row, "one", 1003 + LEASE) is True
    assert two.mark_delivered(row, "two", 1004 + LEASE) is False
    (item,) = two.items([row])
    assert (item.delivered_ms, item.attempts, item.claimed_by) == (1003 + LEASE, 1, "one")


def test_a_failure_releases_the_claim_and_waits_for_the_next_attempt(outbox: NoticeOutbox) -> None:
    (row,) = queue(outbox, 1, ["hook"], 1000)
    outbox.claim_due("d", "hook", 1000, 5, 1000 + LEASE)
    assert outbox.mark_failed(row, "d", 1500, "HTTP 503", 6500) is True
    (item,) = outbox.items([row])
    assert (item.attempts, item.last_error, item.claimed_by, item.lease_until_ms) == (1, "HTTP 503", None, None)
    assert outbox.claim_due("e", "hook", 6499, 5, LEASE) == []
    (again,) = outbox.claim_due("e", "hook", 6500, 5, 6500 + LEASE)
    assert (again.id, again.attempts, again.claimed_by) == (row, 1, "e")


def test_delivered_and_given_up_rows_leave_the_queue_once(outbox: NoticeOutbox) -> None:
    hook, mail = queue(outbox, 1, ["hook", "mail"], 1000)
    outbox.claim_due("d", "hook", 1000, 5, LEASE)
    outbox.claim_due("d", "mail", 1000, 5, LEASE)
    assert outbox.mark_delivered(hook, "d", 1200) is True
    assert outbox.mark_failed(mail, "d", 1300, "refused", None) is True
    assert outbox.mark_failed(hook, "d", 1400, "late failure", 9000) is False  # delivered: no effect
    assert outbox.mark_delivered(mail, "d", 1500) is False  # given up: no effect
    assert outbox.pending_count() == 0
    assert outbox.claim_due("d", "hook", 10**12, 5, 10**12 + LEASE) == []
    h, m = outbox.items([hook, mail])
    assert (h.attempts, h.delivered_ms, h.given_up_ms, h.claimed_by) == (1, 1200, None, "d")
    assert (m.attempts, m.delivered_ms, m.given_up_ms, m.last_error, m.claimed_by) == (1, None, 1300, "refused", None)
    assert not h.pending and not m.pending


def test_outcomes_recorded_together_each_say_whether_they_were_written(opener: Opener) -> None:
    one, two = opener(), opener()
    ok, retry, gone, theirs = queue(one, 1, ["a", "b", "c", "d"], 1000)
    for channel in "abc":
        one.claim_due("one", channel, 1000, 5, 1000 + LEASE)
    two.claim_due("two", "d", 1000, 5, 1000 + LEASE)
    written = one.record("one", [
        Outcome(ok, 1100, delivered=True),
        Outcome(retry, 1100, False, "HTTP 500", 9000),
        Outcome(gone, 1100, False, "refused", None),
        Outcome(theirs, 1100, False, "not mine to fail", 9000),  # "two" holds it
    ])
    assert written == [True, True, True, False]
    assert one.record("one", []) == []
    a, b, c, d = one.items([ok, retry, gone, theirs])
    assert a.delivered_ms == 1100 and (b.next_attempt_ms, b.last_error) == (9000, "HTTP 500")
    assert c.given_up_ms == 1100 and (d.claimed_by, d.attempts) == ("two", 0)
    assert one.pending_count() == 2


def test_a_stopping_dispatcher_gives_its_claims_back_at_once(opener: Opener) -> None:
    one, two = opener(), opener()
    ids = queue(one, 1, ["a", "b"], 1000)
    one.claim_due("one", "a", 1000, 5, 1000 + LEASE)
    one.claim_due("one", "b", 1000, 5, 1000 + LEASE)
    assert two.release("two") == 0
    assert one.release("one") == 2
    assert sorted(i.id for c in ("a", "b") for i in two.claim_due("two", c, 1001, 5, LEASE)) == ids


def test_old_rows_of_channels_no_longer_configured_are_given_up(opener: Opener) -> None:
    outbox, other = opener(), opener()
    kept, removed, claimed = queue(outbox, 1, ["kept", "removed", "elsewhere"], 1000)
    (young,) = queue(outbox, 2, ["removed"], 5000)
    other.claim_due("other", "elsewhere", 1000, 5, 1000 + LEASE)  # a dispatcher that has the channel
    assert outbox.give_up_stranded(["kept"], 6000, created_before_ms=2000) == 1
    assert outbox.pending_count() == 3
    (item,) = outbox.items([removed])
    assert item.given_up_ms == 6000 and item.claimed_by is None
    assert "removed" in item.last_error and "no longer configured" in item.last_error
    assert outbox.items([young])[0].pending and outbox.items([claimed])[0].pending
    # no channel at all: every old pending row nobody holds; a claim past its lease holds nothing
    assert outbox.give_up_stranded([], 2000 + LEASE, created_before_ms=6000) == 3
    assert not any(i.pending for i in outbox.items([kept, young, claimed]))


def test_dispatchers_claiming_at_once_never_share_a_row(opener: Opener) -> None:
    first = opener()
    for alarm in range(200):
        queue(first, alarm, ["hook"], 1000)
    outboxes = [first, opener(), opener()]
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(len(outboxes))

    def claim(name: str, outbox: NoticeOutbox) -> None:
        got = claimed.setdefault(name, [])
        start.wait()
        while batch := outbox.claim_due(name, "hook", 2000, 7, 2000 + LEASE):
            got.extend(i.id for i in batch)
            time.sleep(0.001)  # as a send does: the others' claims interleave with this one's

    threads = [threading.Thread(target=claim, args=(f"d{n}", o)) for n, o in enumerate(outboxes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 200 and len(set(every)) == 200
    # which dispatcher claims first is the scheduler's choice; that they take turns is what matters
    assert sum(1 for ids in claimed.values() if ids) >= 2
    owners = {i.id: i.claimed_by for i in first.items()}
    assert all(owners[i] == name for name, ids in claimed.items() for i in ids)


def test_the_store_url_chooses_the_engine(tmp_path: Path) -> None:
    assert isinstance(open_notice_outbox(f"sqlite:///{tmp_path / 'x.db'}"), SqliteNoticeOutbox)
    assert isinstance(open_notice_outbox("postgresql://nobody@127.0.0.1:1/none"), PostgresNoticeOutbox)


def test_a_lost_postgresql_connection_fails_one_call_and_the_next_reconnects(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        pg_migrate(admin)
        name = f"notify-{uuid.uuid4().hex[:8]}"
        outbox = PostgresNoticeOutbox(pg_dsn, application_name=name)
        (row,) = queue(outbox, 1, ["hook"], 1000)
        # as a restart of PostgreSQL does to every connection
        ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                              (name,)).fetchall()
        assert ended == [(True,)]
        with pytest.raises(OutboxError, match="notification outbox \\(PostgreSQL\\)"):
            outbox.claim_due("d", "hook", 1000, 5, LEASE)
        assert [i.id for i in outbox.claim_due("d", "hook", 1000, 5, LEASE)] == [row]
        outbox.close()
