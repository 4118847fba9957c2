"""Submit a batch through the pipeline and wait for its commit: an HTTP 200 means stored."""

from __future__ import annotations

import asyncio

from forewarn.ingest.pipeline import Pipeline
from forewarn.store.base import IngestBatch
from forewarn.web.problems import ApiProblem

__all__ = ["store_batch"]


async def store_batch(pipeline: Pipeline, batch: IngestBatch) -> None:
    """Return once ``batch`` is committed; raise a 503 problem when it could not be stored."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_stored(error: BaseException | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    pipeline.submit(batch, on_stored)
    try:
        # shielded: a client that hangs up does not cancel the write, only our wait for it
        await asyncio.shield(done)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise ApiProblem(
            503, f"not stored ({exc}); nothing of this request was kept, send it again", title="Not stored"
        ) from exc
