"""Keeps the rule engine's index of data marked invalid in audit in step with the store.

A mark made through the API, the dashboard or ``forewarn audit`` in another process is in the
audit log; this watcher looks at the newest data-mark entry every few seconds on a reader
thread and, when it moved, rebuilds the index there and swaps it into the engine on the loop
(``Engine.marked``, read by ``rules/marked.py``). So a live reading that an invalid mark covers
(a calibration announced as an open-ended mark) raises no alarm, without the engine ever
reading the database.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

from forewarn.rules.engine import Engine
from forewarn.store import audit_marks
from forewarn.store.readers import ReaderPool, snapshot

__all__ = ["MarkedData"]

log = logging.getLogger(__name__)
#: marks reach this far back for the engine: backfilled readings are judged too (not announced)
WINDOW_MS = 30 * 86_400_000

_Loaded = tuple[int, dict[tuple[int, str, str], list[tuple[int, int]]] | None]


class MarkedData:
    def __init__(self, engine: Engine, readers: ReaderPool, now_ms: Callable[[], int]) -> None:
        self.engine = engine
        self.readers = readers
        self.now_ms = now_ms
        self.version = -1

    def _load(self, db: sqlite3.Connection) -> _Loaded:
        version = audit_marks.marks_version(db)
        if version == self.version:
            return version, None
        return version, audit_marks.invalid_by_point_key(db, self.now_ms() - WINDOW_MS)

    def _swap(self, loaded: _Loaded) -> None:
        version, index = loaded
        if index is None or version <= self.version:
            return
        self.version = version
        self.engine.marked = index
        if index:  # nothing marked is the usual start: not worth a line before the server's own
            log.info("data marked invalid: %d points not judged where marked", len(index))

    def load(self, db: sqlite3.Connection) -> None:
        """At start, before any reading is judged."""
        self._swap(self._load(db))

    async def refresh(self) -> None:
        """Rebuild the index on a reader thread if a mark changed; swap it in here."""
        self._swap(await self.readers.run(snapshot(self._load)))

    async def run(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("reloading the data marked invalid failed; will retry")
