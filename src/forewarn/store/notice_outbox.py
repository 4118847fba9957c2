"""The notification outbox as a repository: queue, claim, record outcomes (SQLite here).

Rows are queued inside the transaction of the alarm change they tell of (:func:`enqueue_in`),
so a notice is never sent for a change that was not stored nor lost for one that was. They
are taken for delivery by **claim**: one atomic statement marks due rows as claimed by one
dispatcher (an id per process) until a lease time, and only that dispatcher sends them. So two
dispatchers (two processes, two machines, one database) never send the same row at the same
time. The claimant's outcome releases the claim in the same statement that records it. A claim
whose lease has passed belonged to a dispatcher that died mid-send; any dispatcher takes the row
again, which makes delivery at least once, never at most once: see ``dispatcher.py``.

The queries are written once, with ``?`` parameters, for both engines; the PostgreSQL twin
(:mod:`forewarn.store.postgres.notice_outbox`) converts them with its dialect and claims with
``FOR UPDATE SKIP LOCKED``. SQLite has one writer at a time, so its claim simply runs inside
``BEGIN IMMEDIATE``: the write lock is taken before the due rows are chosen, and no other
dispatcher can choose them between the choice and the mark.

Times are Unix epoch milliseconds given by the caller, so tests move a clock by hand and two
dispatchers compare leases on the same scale (on several machines, their clocks must agree to
well under the lease's margin: NTP does that).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "NoticeOutbox",
    "OutboxError",
    "OutboxItem",
    "Outcome",
    "SqliteNoticeOutbox",
    "enqueue_in",
    "open_notice_outbox",
]

PENDING = "delivered_ms IS NULL AND given_up_ms IS NULL"
COLUMNS = (
    "id, channel, alarm_id, event, payload, created_ms, attempts, next_attempt_ms, last_error, "
    "claimed_by, lease_until_ms, delivered_ms, given_up_ms"
)
#: A row one may claim now: pending, due, of the channel, and nobody's (or its lease has passed).
CLAIMABLE = (
    f"{PENDING} AND channel = ? AND next_attempt_ms <= ? AND (claimed_by IS NULL OR lease_until_ms < ?)"
)
#: The due rows to claim, most overdue first; the PostgreSQL twin adds FOR UPDATE SKIP LOCKED.
CHOOSE = f"SELECT id FROM outbox WHERE {CLAIMABLE} ORDER BY next_attempt_ms, id LIMIT ?"

INSERT = (
    "INSERT INTO outbox (channel, alarm_id, event, payload, created_ms, next_attempt_ms) "
    "VALUES (?, ?, ?, ?, ?, ?) RETURNING id"
)
PROBE = f"SELECT 1 FROM outbox WHERE {CLAIMABLE} LIMIT 1"
CLAIM = "UPDATE outbox SET claimed_by = ?, lease_until_ms = ? WHERE id IN ({choose}) RETURNING " + COLUMNS
#: Delivered is a fact whoever holds the claim now (a retaken row's second send is a no-op here);
#: claimed_by stays: who delivered it.
DELIVERED = (
    "UPDATE outbox SET delivered_ms = ?, attempts = attempts + 1, claimed_by = ?, lease_until_ms = NULL "
    f"WHERE id = ? AND {PENDING}"
)
#: A failure is recorded only by the row's claimant: once another dispatcher has retaken the row,
#: its retry schedule is that dispatcher's.
RETRY = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ?, claimed_by = NULL, "
    f"lease_until_ms = NULL WHERE id = ? AND claimed_by = ? AND {PENDING}"
)
GIVE_UP = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, given_up_ms = ?, claimed_by = NULL, "
    f"lease_until_ms = NULL WHERE id = ? AND claimed_by = ? AND {PENDING}"
)
RELEASE = f"UPDATE outbox SET claimed_by = NULL, lease_until_ms = NULL WHERE claimed_by = ? AND {PENDING}"
COUNT_PENDING = f"SELECT count(*) FROM outbox WHERE {PENDING}"
STRANDED = (
    "UPDATE outbox SET given_up_ms = ?, last_error = 'channel ' || channel || ' is no longer configured', "
    "claimed_by = NULL, lease_until_ms = NULL WHERE {pending} AND {not_known} AND created_ms < ? "
    "AND (claimed_by IS NULL OR lease_until_ms < ?)"
)
ITEMS = f"SELECT {COLUMNS} FROM outbox"


class OutboxError(Exception):
    """The outbox could not be read or written (the database is unreachable, locked, or broken)."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox row: a notice for one channel, its attempts, its claim, its outcome."""

    id: int
    channel: str
    alarm_id: int
    event: str
    payload: str  # JSON text of the notice, exactly as queued
    created_ms: int
    attempts: int  # attempts made so far
    next_attempt_ms: int
    last_error: str
    claimed_by: str | None = None  # the dispatcher holding it; on a delivered row, who delivered it
    lease_until_ms: int | None = None  # the claim holds until then
    delivered_ms: int | None = None
    given_up_ms: int | None = None

    @property
    def pending(self) -> bool:
        return self.delivered_ms is None and self.given_up_ms is None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one attempt: delivered, or failed and to be tried again at
    ``next_attempt_ms`` (given up when None)."""

    item_id: int
    at_ms: int
    delivered: bool
    error: str = ""
    next_attempt_ms: int | None = None


def outcome_statement(owner: str, outcome: Outcome) -> tuple[str, tuple[object, ...]]:
    """The statement (``?`` parameters) recording ``outcome`` for ``owner``, and its parameters."""
    if outcome.delivered:
        return DELIVERED, (outcome.at_ms, owner, outcome.item_id)
    if outcome.next_attempt_ms is None:
        return GIVE_UP, (outcome.error, outcome.at_ms, outcome.item_id, owner)
    return RETRY, (outcome.error, outcome.next_attempt_ms, outcome.item_id, owner)


class NoticeOutbox(Protocol):
    """The outbox as the dispatcher and the tests use it; each call is a transaction of its own.

    Implementations are synchronous and may block (on a lock, on the network): callers on an
    event loop run them on a thread of their own.
    """

    def enqueue(self, alarm_id: int, event: str, payload: str, channels: Sequence[str], now_ms: int) -> list[int]:
        """Queue one notice once per channel (duplicates dropped), due at once; the new ids."""
        ...

    def claim_due(self, owner: str, channel: str, now_ms: int, limit: int, lease_until_ms: int) -> list[OutboxItem]:
        """Claim up to ``limit`` due rows of ``channel`` for ``owner`` until ``lease_until_ms``,
        most overdue first; rows claimed by another whose lease has not passed are left alone."""
        ...

    def mark_delivered(self, item_id: int, owner: str, now_ms: int) -> bool:
        """The receiver took it: the row leaves the queue (kept for the record); False if it had
        already left it."""
        ...

    def mark_failed(self, item_id: int, owner: str, now_ms: int, error: str, next_attempt_ms: int | None) -> bool:
        """An attempt failed: retry at ``next_attempt_ms`` (or give up when None) and release the
        claim; False (nothing written) when ``owner`` no longer holds the row."""
        ...

    def record(self, owner: str, outcomes: Sequence[Outcome]) -> list[bool]:
        """Record several outcomes in one transaction (one commit for a round of sends); for each,
        whether it was written (see the two methods above)."""
        ...

    def release(self, owner: str) -> int:
        """Release every claim ``owner`` holds on pending rows (a dispatcher that stops); how many."""
        ...

    def give_up_stranded(self, known_channels: Collection[str], now_ms: int, created_before_ms: int) -> int:
        """Give up pending rows of channels not in ``known_channels`` queued before
        ``created_before_ms`` and held by no live claim; how many.

        Rows of a channel this dispatcher lacks may be another's to send (its file names the
        channel; the files of a rolling change differ for a while), so only rows too old to be
        worth sending are given up, never a claimed one."""
        ...

    def pending_count(self) -> int:
        """Rows neither delivered nor given up."""
        ...

    def items(self, ids: Collection[int] | None = None) -> list[OutboxItem]:
        """Rows by id (every row when None), in id order: the record of what was sent."""
        ...

    def close(self) -> None: ...


def enqueue_in(
    db: sqlite3.Connection, alarm_id: int, event: str, payload: str, channels: Sequence[str], now_ms: int
) -> list[int]:
    """Queue one notice once per channel inside the caller's SQLite transaction; the new ids."""
    return [
        int(db.execute(INSERT, (name, alarm_id, event, payload, now_ms, now_ms)).fetchone()[0])
        for name in dict.fromkeys(channels)
    ]


def stranded_sql(known_channels: Collection[str], now_ms: int, created_before_ms: int) -> tuple[str, list[object]]:
    """The statement giving up rows of channels not in ``known_channels``, and its parameters."""
    names = list(known_channels)
    not_known = f"channel NOT IN ({','.join('?' * len(names))})" if names else "TRUE"
    return (STRANDED.format(pending=PENDING, not_known=not_known),
            [now_ms, *names, created_before_ms, now_ms])


def items_sql(ids: Collection[int] | None) -> tuple[str, list[object]]:
    if ids is None:
        return f"{ITEMS} ORDER BY id", []
    return f"{ITEMS} WHERE id IN ({','.join('?' * len(ids)) or 'NULL'}) ORDER BY id", list(ids)


def item_of(row: Sequence[object]) -> OutboxItem:
    return OutboxItem(*row)  # type: ignore[arg-type]


class SqliteNoticeOutbox:
    """The outbox of one SQLite file, on a connection of its own (not the platform's writer's).

    Its transactions are a few rows each, so they wait little for the writer's lock and hold it
    for less; the connection is guarded by a lock, so any thread may call, one at a time.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the notification outbox in {path}: {exc}") from exc
        self._lock = threading.Lock()

    @contextmanager
    def _connection(self, write: bool) -> Iterator[sqlite3.Connection]:
        """The connection, in a BEGIN IMMEDIATE transaction when ``write``; errors as OutboxError."""
        with self._lock:
            db = self._db
            try:
                if not write:
                    yield db
                    return
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise OutboxError(f"notification outbox ({self.path}): {exc}") from exc

    def enqueue(self, alarm_id: int, event: str, payload: str, channels: Sequence[str], now_ms: int) -> list[int]:
        with self._connection(write=True) as db:
            return enqueue_in(db, alarm_id, event, payload, channels, now_ms)

    def claim_due(self, owner: str, channel: str, now_ms: int, limit: int, lease_until_ms: int) -> list[OutboxItem]:
        if limit <= 0:
            return []
        where = (channel, now_ms, now_ms)
        # a read first: an idle dispatcher polling every second takes no write lock at all
        with self._connection(write=False) as db:
            if db.execute(PROBE, where).fetchone() is None:
                return []
        with self._connection(write=True) as db:
            rows = db.execute(CLAIM.format(choose=CHOOSE), (owner, lease_until_ms, *where, limit)).fetchall()
        # RETURNING gives no order; the most overdue goes first
        return sorted((item_of(r) for r in rows), key=lambda i: (i.next_attempt_ms, i.id))

    def mark_delivered(self, item_id: int, owner: str, now_ms: int) -> bool:
        return self.record(owner, [Outcome(item_id, now_ms, delivered=True)])[0]

    def mark_failed(self, item_id: int, owner: str, now_ms: int, error: str, next_attempt_ms: int | None) -> bool:
        return self.record(owner, [Outcome(item_id, now_ms, False, error, next_attempt_ms)])[0]

    def record(self, owner: str, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        with self._connection(write=True) as db:
            return [db.execute(*outcome_statement(owner, o)).rowcount > 0 for o in outcomes]

    def release(self, owner: str) -> int:
        with self._connection(write=True) as db:
            return db.execute(RELEASE, (owner,)).rowcount

    def give_up_stranded(self, known_channels: Collection[str], now_ms: int, created_before_ms: int) -> int:
        sql, args = stranded_sql(known_channels, now_ms, created_before_ms)
        with self._connection(write=True) as db:
            return db.execute(sql, args).rowcount

    def pending_count(self) -> int:
        with self._connection(write=False) as db:
            return int(db.execute(COUNT_PENDING).fetchone()[0])

    def items(self, ids: Collection[int] | None = None) -> list[OutboxItem]:
        sql, args = items_sql(ids)
        with self._connection(write=False) as db:
            return [item_of(r) for r in db.execute(sql, args)]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_notice_outbox(url: str) -> NoticeOutbox:
    """The outbox of the store a URL names (``sqlite:///PATH`` or ``postgresql://...``).

    The schema must be there already (the store's migrations, run when the platform starts).
    """
    if url.startswith(("postgresql://", "postgres://")):
        from forewarn.store.postgres.notice_outbox import PostgresNoticeOutbox

        return PostgresNoticeOutbox(url)
    if url.startswith("sqlite:///"):
        return SqliteNoticeOutbox(Path(url.removeprefix("sqlite:///")))
    raise OutboxError(f"no notification outbox for store {url!r}: expected sqlite:///PATH or postgresql://...")
