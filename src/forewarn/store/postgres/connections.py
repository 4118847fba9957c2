"""The PostgreSQL store's connections: one for the writer, a pool for readers.

Every write (ingest batches, registry imports, writer jobs) goes through one connection, as
on SQLite through one writer thread, so that batches are committed in the order they were
submitted and the staging table of bulk writes (a temporary table, private to a connection)
exists once. Reads take a pooled connection, checked before it is handed out, so a server
restart costs the first reader nothing. A writer connection found closed or broken is
opened again on the next call: the call that met the loss fails with a transient error
(:func:`forewarn.store.postgres.errors.is_transient_pg`), the writer tries again and finds
a fresh connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

__all__ = ["Connections", "describe"]

T = TypeVar("T")

#: Every connection's settings. JIT compilation off: the store's queries are short, and the
#: planner's cost of the series query (a thousand correlated subqueries) made PostgreSQL spend
#: a second compiling a query that runs in tens of milliseconds (measured, docs/benchmarks.md).
_SESSION = "SET jit = off"

#: the staging table bulk writes COPY into (see forewarn.store.postgres.ingest)
_STAGING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS forewarn_staging "
    "(kind SMALLINT NOT NULL, point_id BIGINT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION, "
    "flag TEXT NOT NULL) ON COMMIT DELETE ROWS"
)


def describe(dsn: str) -> str:
    """host:port/database as user, for messages (never the password)."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(an address that cannot be read)"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or info.get('user') or ''} as {info.get('user') or '(default user)'}"


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(_SESSION)
    if not conn.autocommit:
        conn.commit()


class Connections:
    """The writer's connection (opened now, so a wrong address fails here) and the readers' pool."""

    def __init__(self, dsn: str, *, readers: int = 4, connect_timeout: float = 5) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._writer: psycopg.Connection[Any] | None = None
        self.writer()
        self.pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=readers,
            kwargs={"connect_timeout": int(connect_timeout)},
            check=ConnectionPool.check_connection,
            configure=_configure,
            name="forewarn-readers",
            open=True,
        )

    def writer(self) -> psycopg.Connection[Any]:
        """The writer's connection, opened again if it was closed or lost."""
        with self._lock:
            conn = self._writer
            if conn is None or conn.closed or conn.broken:
                if conn is not None:
                    conn.close()
                self._writer = None
                conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=int(self.connect_timeout))
                _configure(conn)
                conn.execute(_STAGING)
                self._writer = conn
            return conn

    def read(self, query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``query(conn)`` on a pooled connection, in one read transaction."""
        with self.pool.connection() as conn:
            return query(conn)

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self.pool.close()
