"""Reader threads, for queries too long for the event loop.

The event loop serves every device connection; a 100 ms query on it (a year of minute data
for a chart) delays every device's answer by as much. Such queries run here instead: a small
thread pool. On the embedded store each thread has its own read-only SQLite connection
(SQLite connections must not be shared by threads that may use them at once; WAL lets them
read while the writer writes), handed to the query (:meth:`ReaderPool.run`). A store that
keeps its own pool of connections (PostgreSQL) needs only the threads: its reads go through
the store's interface, called here (:meth:`ReaderPool.call`), so they stay off the loop too.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

__all__ = ["ReaderPool", "snapshot"]

T = TypeVar("T")


class ReaderPool:
    def __init__(self, path: Path | None, threads: int = 2) -> None:
        """``path``: the SQLite file; None for a store with its own connections (only
        :meth:`call` and :meth:`call_blocking` then)."""
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="forewarn-reader")

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            if self.path is None:
                raise RuntimeError("a SQLite query was asked of a store that is not SQLite (this part of forewarn "
                                   "is not ported to PostgreSQL yet)")
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA cache_size=-32768")
            self._local.db = db
            with self._lock:
                self._opened.append(db)
        return db

    async def run(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """``query(db)`` on a reader thread with that thread's connection; its result here."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: query(self._connection()))

    def run_blocking(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """``query(db)`` on a reader thread, waited for by blocking the caller: only for code
        that cannot await (the caller's thread stalls as long as the query runs)."""
        return self._executor.submit(lambda: query(self._connection())).result()

    def here(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """``query(db)`` with this reader thread's connection: for work :meth:`call` runs here."""
        return query(self._connection())

    @property
    def sqlite(self) -> bool:
        """Whether queries get a SQLite connection (:meth:`run`); else only :meth:`call`."""
        return self.path is not None

    async def call(self, work: Callable[[], T]) -> T:
        """``work()`` on a reader thread (it reads through a store's own connections); its result here."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def call_blocking(self, work: Callable[[], T]) -> T:
        """``work()`` on a reader thread, waited for by blocking the caller (see :meth:`run_blocking`)."""
        return self._executor.submit(work).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for db in self._opened:
                db.close()
            self._opened.clear()


def snapshot(query: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """``query`` inside one read transaction of its (autocommit) connection: a count and the
    page it counts, or a version and the rows it stands for, agree although the writer commits
    in between."""

    def run(db: sqlite3.Connection) -> T:
        db.execute("BEGIN")
        try:
            return query(db)
        finally:
            if db.in_transaction:  # a read transaction: ending it releases the snapshot, writes nothing
                db.execute("COMMIT")

    return run
