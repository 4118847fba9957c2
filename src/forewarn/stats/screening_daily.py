"""The daily screening: at ``screening_hour`` (local time), the day before is screened.

It runs in the background of ``forewarn serve``: the checks on a reader thread with its own
connection, the findings stored by the writer thread, so the loop that answers devices only
waits on futures. A platform that was down at the hour screens the missed day when it starts
(a day already screened by the schedule is not screened again). Time comes from the
platform's clock, so tests move it instead of waiting for the night.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.config import Settings
from forewarn.stats import screening
from forewarn.store.readers import ReaderPool, snapshot
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter

__all__ = ["ACTOR", "DailyScreening"]

log = logging.getLogger(__name__)
T = TypeVar("T")
#: who the schedule's runs are recorded as
ACTOR = "daily screening"
#: the longest sleep between looks at the clock (a moved clock, a changed hour are seen soon)
_NAP_S = 60.0
#: the first look after start waits this long: devices reconnect en masse then, and come first
_START_DELAY_S = 30.0


class DailyScreening:
    """Screens each past day once, after ``settings.screening_hour``."""

    def __init__(self, settings: Settings, readers: ReaderPool, writer: BatchWriter[SqliteStore],
                 clock: Callable[[], float], *, nap_s: float = _NAP_S, start_delay_s: float = _START_DELAY_S) -> None:
        self.settings = settings
        self.readers = readers
        self.writer = writer
        self.clock = clock
        self.nap_s = nap_s
        self.start_delay_s = start_delay_s
        self.last: screening.RunResult | None = None

    def due(self, now_ms: int) -> tuple[int, int] | None:
        """The day to screen now, or None before today's hour (or with the schedule off)."""
        tz = self.settings.tz
        if self.settings.screening_hour < 0:
            return None
        local = datetime.fromtimestamp(now_ms / 1000, tz)
        if local.hour < self.settings.screening_hour:
            return None
        return screening.day_window(now_ms, tz)

    async def run(self) -> None:
        """Until cancelled: screen each day once its hour has come."""
        await asyncio.sleep(self.start_delay_s)
        while True:
            now_ms = int(self.clock() * 1000)
            window = self.due(now_ms)
            if window is not None and not await self._done(window):
                try:
                    self.last = await self.screen(window, now_ms)
                    log.info("daily screening of %s: %d findings (%d new)", self.last.start, self.last.found,
                             self.last.new)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("the daily screening failed; it is tried again in %.0f s", self.nap_s)
            await asyncio.sleep(self.nap_s)

    async def screen(self, window: tuple[int, int], now_ms: int) -> screening.RunResult:
        return await screening.run(
            self._read, self._write, scope=Scope(Role.CITY_ADMIN), from_ms=window[0], to_ms=window[1], actor=ACTOR,
            data_dir=self.settings.data_dir, tz=self.settings.tz, now_ms=now_ms)

    async def _done(self, window: tuple[int, int]) -> bool:
        return bool(await self._read(lambda db: db.execute(
            "SELECT 1 FROM screening_runs WHERE actor = ? AND from_ms = ? AND to_ms = ? AND finished_ms IS NOT NULL",
            (ACTOR, *window)).fetchone()))

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        return await self.readers.run(snapshot(query))

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if not done.done():
                done.set_exception(error) if error is not None else done.set_result(result)

        def job(store: SqliteStore) -> None:
            box: list[Any] = []
            try:
                store.run_in_transaction(lambda db: box.append(work(db)))
            except BaseException as exc:
                loop.call_soon_threadsafe(settle, None, exc)
                return
            loop.call_soon_threadsafe(settle, box[0], None)

        self.writer.submit_job(job)
        result: T = await asyncio.shield(done)
        return result
