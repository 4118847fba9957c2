"""The one writer thread: batches from the event loop in, committed transactions out.

SQLite allows one writer at a time, and a commit costs the same for one row as for ten
thousand, so every batch queued while a transaction runs is merged into the next one (group
commit). Each batch carries a callback that is called after its transaction commits, and
only then does a protocol adapter answer its device: an answer means "stored".

When a merged transaction fails, each batch in it is retried alone, so one bad batch cannot
take its neighbours down with it; a transient failure (the database locked by another
process beyond the busy timeout) is retried a few times with a pause before a batch is given
up, and only then is its adapter told (its device, not answered, sends again).

Jobs (functions of the store) run on the same thread between transactions, for work that
must see every earlier write and must not race with later ones, such as claiming quarantine.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from forewarn.latency import Histogram
from forewarn.store.base import IngestBatch

__all__ = ["BatchWriter", "Dispatch", "WriteDone", "WriterClosed", "run_callbacks"]

log = logging.getLogger(__name__)

#: Called once the batch is committed (with None) or has failed (with the exception).
WriteDone = Callable[[BaseException | None], None]
#: Runs the callbacks of one commit; the default calls them on the writer thread, an event
#: loop passes one that hands them all to the loop at once (one wake-up per commit).
Dispatch = Callable[[list[WriteDone], BaseException | None], None]

_RETRY_PAUSES_S = (0.2, 1.0, 3.0)


class WriterClosed(RuntimeError):
    """The writer no longer accepts batches (the platform is stopping)."""


def run_callbacks(callbacks: list[WriteDone], error: BaseException | None) -> None:
    for done in callbacks:
        try:
            done(error)
        except Exception:
            log.exception("a write callback failed")


class _Writable(Protocol):
    def write(self, batch: IngestBatch) -> None: ...


class _Stop:
    """Queued by close(): everything before it is written, then the thread ends."""


S = TypeVar("S", bound=_Writable)
_Item = tuple[IngestBatch, "WriteDone | None"] | Callable[[S], object] | _Stop


class BatchWriter(Generic[S]):
    """Owns the store's write path on a dedicated thread."""

    def __init__(self, store: S, max_rows: int = 20000, dispatch: Dispatch = run_callbacks) -> None:
        self._store = store
        self.dispatch = dispatch
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[_Item[S]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="forewarn-writer", daemon=True)
        self._closed = False
        self._started = False
        #: how long each committed transaction of readings took (for /metrics)
        self.commit_seconds = Histogram()

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def submit(self, batch: IngestBatch, done: WriteDone | None = None) -> None:
        """Queue a batch; ``done`` is dispatched after it is committed (or has failed)."""
        if self._closed:
            raise WriterClosed("the platform is stopping; nothing more can be stored")
        self._queue.put((batch, done))

    def submit_job(self, job: Callable[[S], object]) -> None:
        """Run ``job(store)`` on the writer thread after everything queued before it."""
        if self._closed:
            raise WriterClosed("the platform is stopping")
        self._queue.put(job)

    def queue_depth(self) -> int:
        """Batches and jobs waiting for the writer (for metrics: a growing queue means the
        store cannot keep up)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Write everything queued so far, then stop the thread (waits for it)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_Stop())
        if self._started:
            self._thread.join()

    def _run(self) -> None:
        pending: _Item[S] | None = None  # taken from the queue, not yet handled
        while True:
            item = pending if pending is not None else self._queue.get()
            pending = None
            if isinstance(item, _Stop):
                return
            if not isinstance(item, tuple):
                self._run_job(item)
                continue
            group = [item]
            rows = item[0].row_count()
            while rows < self._max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(nxt, tuple):  # a job or the stop ends the group
                    pending = nxt
                    break
                group.append(nxt)
                rows += nxt[0].row_count()
            self._commit(group)

    def _run_job(self, job: Callable[[S], object]) -> None:
        try:
            job(self._store)
        except Exception:
            log.exception("a writer job failed")

    def _commit(self, group: list[tuple[IngestBatch, WriteDone | None]]) -> None:
        merged = IngestBatch()
        for batch, _ in group:
            merged.merge(batch)
        started = time.perf_counter()
        try:
            self._store.write(merged)
        except Exception as exc:
            if len(group) == 1:
                self._give_up_or_retry(group[0], exc)
                return
            log.warning("a group of %d batches failed (%s); writing them one by one", len(group), exc)
            for one in group:
                self._write_alone(one)
            return
        self.commit_seconds.observe(time.perf_counter() - started)
        self._dispatch([done for _, done in group if done is not None], None)

    def _write_alone(self, item: tuple[IngestBatch, WriteDone | None]) -> None:
        try:
            self._store.write(item[0])
        except Exception as exc:
            self._give_up_or_retry(item, exc)
            return
        if item[1] is not None:
            self._dispatch([item[1]], None)

    def _give_up_or_retry(self, item: tuple[IngestBatch, WriteDone | None], error: Exception) -> None:
        batch, done = item
        for pause in _RETRY_PAUSES_S:
            time.sleep(pause)
            try:
                self._store.write(batch)
            except Exception as exc:
                error = exc
                continue
            if done is not None:
                self._dispatch([done], None)
            return
        log.error(
            "could not store a batch of %d readings after %d tries: %s; devices that asked "
            "for an answer were not answered and will send again", batch.row_count(),
            len(_RETRY_PAUSES_S) + 1, error,
        )
        if done is not None:
            self._dispatch([done], error)

    def _dispatch(self, callbacks: list[WriteDone], error: BaseException | None) -> None:
        if not callbacks:
            return
        try:
            self.dispatch(callbacks, error)
        except Exception:
            log.exception("dispatching write callbacks failed")
