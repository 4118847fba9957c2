"""The notification outbox on PostgreSQL: the SQLite repository's queries, claimed with SKIP LOCKED.

The queries are :mod:`forewarn.store.notice_outbox`'s, in psycopg's parameter style. Only the
claim differs: the due rows are chosen ``FOR UPDATE SKIP LOCKED``, so two dispatchers claiming
at the same moment each lock different rows instead of waiting for each other, and a row one
of them has just claimed and committed no longer matches the other's re-checked condition
(under READ COMMITTED the locked row is re-read). The lease makes a crashed claimant's rows
claimable again, as on SQLite.

One connection, used by one caller at a time (the dispatcher's database thread): the
dispatcher makes a few small transactions a second, far from needing a pool. A connection
lost (PostgreSQL restarted) is reopened on the next call; the call that met the loss fails
with :class:`OutboxError` and the dispatcher tries again at its next poll.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import psycopg

from forewarn.store import notice_outbox as q
from forewarn.store.dialect import POSTGRES
from forewarn.store.notice_outbox import OutboxError, OutboxItem, Outcome

__all__ = ["PostgresNoticeOutbox", "enqueue_in"]

_INSERT = POSTGRES.sql(q.INSERT)
_CLAIM = POSTGRES.sql(q.CLAIM.format(choose=q.CHOOSE + " FOR UPDATE SKIP LOCKED"))
_OUTCOMES = {sql: POSTGRES.sql(sql) for sql in (q.DELIVERED, q.RETRY, q.GIVE_UP)}
_RELEASE = POSTGRES.sql(q.RELEASE)
_COUNT_PENDING = POSTGRES.sql(q.COUNT_PENDING)

Connection = psycopg.Connection[tuple[object, ...]]


def enqueue_in(
    conn: Connection, alarm_id: int, event: str, payload: str, channels: Sequence[str], now_ms: int
) -> list[int]:
    """Queue one notice once per channel inside the caller's PostgreSQL transaction; the new ids."""
    ids = []
    for name in dict.fromkeys(channels):
        row = conn.execute(_INSERT, (name, alarm_id, event, payload, now_ms, now_ms)).fetchone()
        assert row is not None and isinstance(row[0], int)
        ids.append(row[0])
    return ids


class PostgresNoticeOutbox:
    """The outbox of one PostgreSQL database (the schema the DSN's search_path names)."""

    def __init__(self, dsn: str, *, connect_timeout_s: int = 5, application_name: str = "forewarn-notify") -> None:
        """``application_name``: how the connection shows in pg_stat_activity."""
        self.dsn = dsn
        self.connect_timeout_s = connect_timeout_s
        self.application_name = application_name
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self, *, lazy: bool = False) -> Iterator[Connection]:
        """A transaction on the (re)opened connection; errors as OutboxError.

        ``lazy``: commit without waiting for the WAL flush (synchronous_commit off). Claims and
        outcomes may: what a crash of PostgreSQL can lose is the last fraction of a second of
        them (wal_writer_delay), whose rows are then sent again, which at-least-once delivery
        allows anyway; in return the dispatcher never queues on the WAL flushes that ingest's
        commits wait for. Queued notices are never lazy (they commit with their alarm).
        """
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=self.connect_timeout_s,
                                                 application_name=self.application_name)
                conn = self._conn
                with conn.transaction():
                    if lazy:
                        conn.execute("SET LOCAL synchronous_commit = off")
                    yield conn
            except psycopg.Error as exc:
                if self._conn is not None and (self._conn.broken or isinstance(exc, psycopg.OperationalError)):
                    self._conn.close()
                    self._conn = None
                raise OutboxError(f"notification outbox (PostgreSQL): {exc}") from exc

    def enqueue(self, alarm_id: int, event: str, payload: str, channels: Sequence[str], now_ms: int) -> list[int]:
        with self._transaction() as conn:
            return enqueue_in(conn, alarm_id, event, payload, channels, now_ms)

    def claim_due(self, owner: str, channel: str, now_ms: int, limit: int, lease_until_ms: int) -> list[OutboxItem]:
        if limit <= 0:
            return []
        with self._transaction(lazy=True) as conn:
            rows = conn.execute(_CLAIM, (owner, lease_until_ms, channel, now_ms, now_ms, limit)).fetchall()
        return sorted((q.item_of(r) for r in rows), key=lambda i: (i.next_attempt_ms, i.id))

    def mark_delivered(self, item_id: int, owner: str, now_ms: int) -> bool:
        return self.record(owner, [Outcome(item_id, now_ms, delivered=True)])[0]

    def mark_failed(self, item_id: int, owner: str, now_ms: int, error: str, next_attempt_ms: int | None) -> bool:
        return self.record(owner, [Outcome(item_id, now_ms, False, error, next_attempt_ms)])[0]

    def record(self, owner: str, outcomes: Sequence[Outcome]) -> list[bool]:
        if not outcomes:
            return []
        with self._transaction(lazy=True) as conn:
            # pipelined: the statements go out together and their answers come back together,
            # one round trip for the round instead of one per outcome
            with conn.pipeline():
                cursors = [conn.execute(_OUTCOMES[sql], args)
                           for sql, args in (q.outcome_statement(owner, o) for o in outcomes)]
            return [cursor.rowcount > 0 for cursor in cursors]

    def release(self, owner: str) -> int:
        with self._transaction(lazy=True) as conn:
            return conn.execute(_RELEASE, (owner,)).rowcount

    def give_up_stranded(self, known_channels: Collection[str], now_ms: int, created_before_ms: int) -> int:
        sql, args = q.stranded_sql(known_channels, now_ms, created_before_ms)
        with self._transaction() as conn:
            return conn.execute(POSTGRES.sql(sql), args).rowcount

    def pending_count(self) -> int:
        with self._transaction() as conn:
            row = conn.execute(_COUNT_PENDING).fetchone()
        assert row is not None and isinstance(row[0], int)
        return row[0]

    def items(self, ids: Collection[int] | None = None) -> list[OutboxItem]:
        sql, args = q.items_sql(ids)
        with self._transaction() as conn:
            return [q.item_of(r) for r in conn.execute(POSTGRES.sql(sql), args)]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
