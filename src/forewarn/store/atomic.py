"""All-or-nothing on the embedded store: a transaction, or a savepoint inside the caller's.

Why here and not in each use case: the statements that open and end a transaction are the
engine's dialect (``BEGIN IMMEDIATE`` takes SQLite's write lock at once, so a check and the
write that follows it cannot race another process); PostgreSQL's equivalent is psycopg's
``Connection.transaction()``, which nests as savepoints the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import psycopg

    #: a connection of either store, as the use cases (forewarn.access) receive it
    Db: TypeAlias = sqlite3.Connection | psycopg.Connection[Any]

__all__ = ["atomic_of", "sqlite_atomic"]


@contextmanager
def sqlite_atomic(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or a savepoint inside an open transaction.

    Outside a transaction this commits on success; inside the caller's it only releases a
    savepoint and leaves committing to the caller. Any exception rolls it back.
    """
    if db.in_transaction:
        db.execute("SAVEPOINT forewarn_access")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK TO forewarn_access")
            db.execute("RELEASE forewarn_access")
            raise
        db.execute("RELEASE forewarn_access")
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def atomic_of(db: Db) -> AbstractContextManager[object]:
    """All-or-nothing on whichever store ``db`` belongs to: :func:`sqlite_atomic`, or psycopg's
    ``transaction()`` (a transaction of its own, or a savepoint inside the caller's)."""
    if isinstance(db, sqlite3.Connection):
        return sqlite_atomic(db)
    return db.transaction()
