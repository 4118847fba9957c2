"""Writes from HTTP handlers go through the platform's single writer thread, awaited.

The writer owns the database's write lock; a handler that wrote on the read connection would
wait for that lock on the event loop and stall every device. Instead the work (a function of
the write connection) runs between the writer's transactions and its result, or its error,
comes back to the awaiting handler.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TypeVar

from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import WriterClosed
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem

__all__ = ["on_writer", "write"]

T = TypeVar("T")


async def write(ctx: ApiContext, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work(db)`` on the writer thread, in its own transaction, and return its result.

    ``work`` raises to roll back; the exception is raised here (an :class:`ApiProblem` passes
    through as it is). The transaction is committed before this returns.
    """

    def in_transaction(store: SqliteStore) -> T:
        box: list[T] = []
        store.run_in_transaction(lambda db: box.append(work(db)))
        return box[0]

    return await on_writer(ctx, in_transaction)


async def on_writer(ctx: ApiContext, work: Callable[[SqliteStore], T]) -> T:
    """Run ``work(store)`` on the writer thread (it manages its own transactions); return its result."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def job(store: SqliteStore) -> None:
        try:
            result = work(store)
        except BaseException as exc:  # handed to the awaiting handler, never lost in the writer's log
            loop.call_soon_threadsafe(settle, None, exc)
            return
        loop.call_soon_threadsafe(settle, result, None)

    try:
        ctx.writer.submit_job(job)
    except WriterClosed as exc:
        raise ApiProblem(503, f"{exc}; try again when the platform is back", title="Stopping") from exc
    return await asyncio.shield(done)
