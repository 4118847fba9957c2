"""Which PostgreSQL errors can pass if the same work is tried again.

The writer retries only those (a commit that failed for a lost connection or a deadlock may
succeed a moment later) and fails fast on everything else, which would fail the same way
again (a constraint, a type error, a missing table, a full disk).
"""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

__all__ = ["TRANSIENT_SQLSTATES", "is_transient_pg"]

#: SQLSTATEs of failures that are about the moment, not about the work
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57P01",  # admin_shutdown (the server is stopping, or our backend was terminated)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, in recovery)
    "53300",  # too_many_connections
    "08000", "08001", "08003", "08004", "08006",  # connection exceptions
})


def is_transient_pg(exc: BaseException) -> bool:
    """A lost or refused connection, a serialization failure or deadlock, a server shutting
    down or starting, too many connections, or no pooled connection free in time."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is not None:
        return state in TRANSIENT_SQLSTATES
    # no SQLSTATE: libpq's own failure (connection refused, closed unexpectedly, timed out)
    return isinstance(exc, psycopg.OperationalError)
