"""Reads from HTTP handlers run on the reader threads, not on the loop that answers devices.

One event loop serves every HJ 212 connection and every HTTP request. A page query that takes
30 ms on it (a registry list counting 10,000 devices, the alarm desk joining its sites) delays
every device's 9014 by as much, and a user opening pages one after another adds up. So a
handler hands its query here: ``await read(ctx, lambda db: ...)`` runs it on one of
:class:`~forewarn.store.readers.ReaderPool`'s threads with that thread's read-only connection,
inside one read transaction, so that a ``COUNT`` and the page it counts see the same snapshot
(the writer may commit in between otherwise). Only what the query returns comes back to the
loop: shape rows into their answer inside the query when that is costly too.

Use it for anything that reads more than a few rows; a lookup by primary key (a session, a
token) costs less than the hop to a thread and may stay on the loop's connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

from forewarn.store.readers import snapshot
from forewarn.web.context import ApiContext

__all__ = ["read"]

T = TypeVar("T")


async def read(ctx: ApiContext, query: Callable[[sqlite3.Connection], T]) -> T:
    """``query(db)`` on a reader thread, in one read transaction; its result (or its error) here.

    Without reader threads (a context built without them) the query runs on the loop's read
    connection, as before: slower for the devices, the same answer.
    """
    if ctx.readers is None:
        return snapshot(query)(ctx.store.db)
    return await ctx.readers.run(snapshot(query))
