"""A rules worker's input: the readings other processes committed, from the bus.

In one process the engine judges each batch inline, before its commit. When ingest runs in
other processes (``--role ingest`` on several machines), the rules worker hears what they
committed on the bus (:class:`~forewarn.bus.events.ReadingsCommitted`, one event per device
and kind, subjects partitioned by device) and judges it here, after the fact:

- each event is judged in a batch of its own through the pipeline's judge, then **the
  readings are taken out** before the batch goes to the writer: they are stored already; only
  the decisions and the state behind them (and the alarms the recorder makes of them) are
  written, in one transaction;
- the event is acknowledged only once that transaction committed (the handler returns after
  the commit), so a worker killed in between gets it again; judging it again changes nothing,
  because the engine refuses a reading not newer than the last it judged for its point;
- one durable consumer per partition (``rules``), each partition's events in order, the
  partitions side by side (their commits grouped by the writer).

What this does not do yet (docs/scale.md): share the partitions between several rules workers
with a hand-over; one rules process consumes them all.
"""

from __future__ import annotations

import asyncio
import logging

from forewarn.bus.base import Bus, Delivery, Subscription
from forewarn.bus.events import ReadingsCommitted, readings_subjects
from forewarn.ingest.pipeline import Pipeline
from forewarn.model import Kind
from forewarn.store.base import IngestBatch, ReadingBatch

__all__ = ["RulesFeed"]

log = logging.getLogger(__name__)

#: the durable consumer's name on the bus (its place is kept under it across restarts)
CONSUMER = "rules"


class RulesFeed:
    """Judge the readings committed elsewhere; acknowledge each once its decisions committed."""

    def __init__(self, bus: Bus, pipeline: Pipeline) -> None:
        self.bus = bus
        self.pipeline = pipeline
        #: events judged and committed (for the status line and tests)
        self.judged = 0
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self.bus.consume(CONSUMER, readings_subjects(self.bus.partitions), self._deliver)

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.close()

    async def _deliver(self, delivery: Delivery) -> None:
        event = delivery.event
        if not isinstance(event, ReadingsCommitted):
            return
        try:
            kind = Kind(event.kind)
        except ValueError:
            log.warning("readings of an unknown kind %r from the bus are not judged", event.kind)
            return
        batch = IngestBatch(readings=[ReadingBatch(event.device_id, kind, list(event.rows))])
        pipeline = self.pipeline
        judge = pipeline.judge
        if judge is None:
            return
        judged = judge(batch, pipeline.now_ms())
        batch.readings.clear()  # stored by the process that heard them: only the decisions are written
        if not batch.rule_events and not batch.rule_states:
            if judged is not None:
                judged.settle(None)  # nothing to write: the engine's view of it stands
            self.judged += 1
            return
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

        def stored(error: BaseException | None) -> None:
            if not done.done():
                done.set_result(error)

        pipeline.submit(batch, stored, judged=judged)
        error = await done
        if error is not None:
            raise error  # not acknowledged: the bus delivers it again, to be judged afresh
        self.judged += 1
