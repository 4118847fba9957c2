"""Users, secrets, tokens and sessions on PostgreSQL: the repository of ``forewarn.store.users``.

The statements are :class:`~forewarn.store.users.SqlUsers`' (the tables of migrations 0006,
0007, 0008 and 0020 have the same columns on both engines, flags as integers 0/1), in
psycopg's ``%s`` style. What is PostgreSQL's own is the transaction: psycopg's
``Connection.transaction()`` is a transaction, or a savepoint inside one already open, the
same nesting as the embedded store's ``BEGIN IMMEDIATE``/``SAVEPOINT``. Without SQLite's
write lock, two sessions may check a name at once; the ``ON CONFLICT (name) DO NOTHING`` of
:meth:`~forewarn.store.users.SqlUsers.add_user` then makes the second one see the name taken
(it waits for the first to commit), rather than failing with a unique violation that would
abort its transaction.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg

from forewarn.store.dialect import POSTGRES
from forewarn.store.users import SqlUsers

__all__ = ["PostgresUsers"]


class PostgresUsers(SqlUsers):
    """The repository on one psycopg connection (autocommit or not: ``atomic`` nests either way)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn, POSTGRES)
        self.connection = conn

    def atomic(self) -> AbstractContextManager[object]:
        return self.connection.transaction()
