"""The outbox seen from the alarms: a notice in as JSON text, a notice out of a row.

Queuing a notice is a plain INSERT made inside the caller's transaction (the alarm change it
tells of), so it commits or rolls back with that change; nothing here begins or commits a
transaction. The rows, their claims and their outcomes are the store's
(:mod:`forewarn.store.notice_outbox` and its PostgreSQL twin); this module only knows how a
notice becomes a row's payload and back.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable

from forewarn.alarms.notice import AlarmNotice
from forewarn.store.notice_outbox import OutboxItem, enqueue_in

__all__ = ["OutboxItem", "enqueue", "notice_of", "payload_of"]

_NOTICE_FIELDS = {f.name: f for f in dataclasses.fields(AlarmNotice)}


def payload_of(notice: AlarmNotice) -> str:
    """The JSON text a row keeps: what every channel renders, exactly as it was when queued."""
    return json.dumps(notice.to_json(), ensure_ascii=False, separators=(",", ":"))


def enqueue(db: sqlite3.Connection, notice: AlarmNotice, channels: Iterable[str], now_ms: int) -> list[int]:
    """Queue ``notice`` once for each channel, due at once; part of the caller's transaction."""
    return enqueue_in(db, notice.alarm_id, notice.event, payload_of(notice), list(channels), now_ms)


def notice_of(item: OutboxItem) -> AlarmNotice:
    """The notice a row was queued with.

    Keys the notice no longer has are ignored and keys it gained since take their defaults,
    so rows queued by an older release still deliver after an upgrade. Raises ValueError when
    the payload cannot make a notice at all.
    """
    try:
        data = json.loads(item.payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"outbox row {item.id} holds no JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"outbox row {item.id} holds no JSON object")
    try:
        return AlarmNotice(**{k: v for k, v in data.items() if k in _NOTICE_FIELDS})
    except TypeError as exc:
        raise ValueError(f"outbox row {item.id} is not a notice: {exc}") from exc
