"""Transactions for the access layer's writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["atomic"]


@contextmanager
def atomic(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All-or-nothing: ``BEGIN IMMEDIATE`` ... ``COMMIT``, or a savepoint inside an open transaction.

    Outside a transaction this commits on success (the write lock is taken at once, so a
    check-then-write inside it cannot race another process); inside the caller's transaction it
    only releases a savepoint and leaves committing to the caller. Any exception rolls it back.
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
