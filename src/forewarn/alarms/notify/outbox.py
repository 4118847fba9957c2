"""The outbox: notices waiting to be delivered, one row per (notice, channel), in the database.

Queuing a notice is a plain INSERT made inside the caller's transaction (the alarm change it
tells of), so it commits or rolls back with that change; nothing here begins or commits a
transaction and nothing here starts a thread. Delivery outcomes are written by the dispatcher
through the single writer; reads (``due``) may use any connection, since WAL readers see the
last commit.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from forewarn.alarms.notice import AlarmNotice

__all__ = [
    "OutboxItem",
    "due",
    "enqueue",
    "give_up_stranded",
    "mark_delivered",
    "mark_failed",
    "pending_attempts",
    "pending_count",
]

_PENDING = "delivered_ms IS NULL AND given_up_ms IS NULL"
_COLUMNS = "id, channel, alarm_id, event, payload, created_ms, attempts, next_attempt_ms, last_error"
_NOTICE_FIELDS = {f.name: f for f in dataclasses.fields(AlarmNotice)}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending delivery as read from the outbox."""

    id: int
    channel: str
    alarm_id: int
    event: str
    payload: str  # JSON text of the notice, exactly as queued
    created_ms: int
    attempts: int  # attempts made so far
    next_attempt_ms: int
    last_error: str

    def notice(self) -> AlarmNotice:
        """The notice as it was queued.

        Keys the notice no longer has are ignored and keys it gained since take their
        defaults, so rows queued by an older release still deliver after an upgrade.
        Raises ValueError when the payload cannot make a notice at all.
        """
        try:
            data = json.loads(self.payload)
        except json.JSONDecodeError as exc:
            raise ValueError(f"outbox row {self.id} holds no JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"outbox row {self.id} holds no JSON object")
        try:
            return AlarmNotice(**{k: v for k, v in data.items() if k in _NOTICE_FIELDS})
        except TypeError as exc:
            raise ValueError(f"outbox row {self.id} is not a notice: {exc}") from exc


def enqueue(db: sqlite3.Connection, notice: AlarmNotice, channels: Iterable[str], now_ms: int) -> None:
    """Queue ``notice`` once for each channel, due at once; part of the caller's transaction."""
    payload = json.dumps(notice.to_json(), ensure_ascii=False, separators=(",", ":"))
    db.executemany(
        "INSERT INTO outbox (channel, alarm_id, event, payload, created_ms, next_attempt_ms) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(name, notice.alarm_id, notice.event, payload, now_ms, now_ms) for name in dict.fromkeys(channels)],
    )


def due(
    db: sqlite3.Connection,
    now_ms: int,
    limit: int,
    *,
    channel: str | None = None,
    exclude_ids: Collection[int] = (),
) -> list[OutboxItem]:
    """Pending rows whose next attempt is at or before ``now_ms``, the most overdue first.

    ``channel`` restricts them to one channel (the dispatcher asks channel by channel, so a
    dead receiver's backlog cannot fill every slot); ``exclude_ids`` leaves out rows already
    being delivered.
    """
    if limit <= 0:
        return []
    where = [_PENDING, "next_attempt_ms <= ?"]
    args: list[object] = [now_ms]
    if channel is not None:
        where.append("channel = ?")
        args.append(channel)
    if exclude_ids:
        where.append(f"id NOT IN ({','.join('?' * len(exclude_ids))})")
        args.extend(exclude_ids)
    args.append(limit)
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE {' AND '.join(where)} "
        "ORDER BY next_attempt_ms, id LIMIT ?",
        args,
    ).fetchall()
    return [OutboxItem(*row) for row in rows]


def mark_delivered(db: sqlite3.Connection, item_id: int, now_ms: int) -> None:
    """The receiver took it: the row leaves the queue (kept, with its history, for the record)."""
    db.execute(
        f"UPDATE outbox SET delivered_ms = ?, attempts = attempts + 1 WHERE id = ? AND {_PENDING}",
        (now_ms, item_id),
    )


def mark_failed(
    db: sqlite3.Connection, item_id: int, now_ms: int, error: str, next_attempt_ms: int | None
) -> None:
    """An attempt failed: try again at ``next_attempt_ms``, or give up when it is None."""
    if next_attempt_ms is None:
        db.execute(
            f"UPDATE outbox SET attempts = attempts + 1, last_error = ?, given_up_ms = ? "
            f"WHERE id = ? AND {_PENDING}",
            (error, now_ms, item_id),
        )
    else:
        db.execute(
            f"UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_ms = ? "
            f"WHERE id = ? AND {_PENDING}",
            (error, next_attempt_ms, item_id),
        )


def pending_count(db: sqlite3.Connection) -> int:
    """Rows neither delivered nor given up (due now or waiting for a retry)."""
    row = db.execute(f"SELECT count(*) FROM outbox WHERE {_PENDING}").fetchone()
    return int(row[0])


def pending_attempts(db: sqlite3.Connection, ids: Collection[int]) -> dict[int, int]:
    """Attempts made so far for those of ``ids`` still pending (absent: delivered or given up).

    The dispatcher uses it to see when an outcome it handed to the writer has been committed.
    """
    if not ids:
        return {}
    rows = db.execute(
        f"SELECT id, attempts FROM outbox WHERE id IN ({','.join('?' * len(ids))}) AND {_PENDING}",
        list(ids),
    )
    return {int(i): int(a) for i, a in rows}


def give_up_stranded(db: sqlite3.Connection, known_channels: Collection[str], now_ms: int) -> int:
    """Give up pending rows of channels the configuration no longer has; return how many.

    Without this a channel removed from the file would leave its rows pending for ever,
    counted as a backlog that nothing will ever deliver.
    """
    names = list(known_channels)
    not_known = f"channel NOT IN ({','.join('?' * len(names))})" if names else "1"
    cursor = db.execute(
        f"UPDATE outbox SET given_up_ms = ?, last_error = 'channel ' || channel || "
        f"' is no longer configured' WHERE {_PENDING} AND {not_known}",
        [now_ms, *names],
    )
    return cursor.rowcount
