"""Transactions for the access layer's writes, on either store."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from forewarn.store.atomic import atomic_of

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

__all__ = ["atomic"]


def atomic(db: Db) -> AbstractContextManager[object]:
    """All-or-nothing: a transaction that commits on success, or a savepoint inside an open one.

    Outside a transaction this commits on success (on SQLite the write lock is taken at once,
    so a check-then-write inside it cannot race another process); inside the caller's
    transaction it only releases a savepoint and leaves committing to the caller. Any
    exception rolls it back.
    """
    return atomic_of(db)
