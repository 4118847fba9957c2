"""The one writer thread: batches from the event loop in, committed transactions out.

SQLite allows one writer at a time, and a commit costs the same for one row as for ten
thousand, so every batch queued while a transaction runs is merged into the next one (group
commit). Each batch carries a callback that is called after its transaction commits, and
only then does a protocol adapter answer its device: an answer means "stored".
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from forewarn.store.base import IngestBatch

__all__ = ["BatchWriter", "Dispatch", "WriteDone", "run_callbacks"]

log = logging.getLogger(__name__)

#: Called once the batch is committed (with None) or has failed (with the exception).
WriteDone = Callable[[BaseException | None], None]
#: Runs the callbacks of one commit; the default calls them on the writer thread, an event
#: loop passes one that hands them all to the loop at once (one wake-up per commit).
Dispatch = Callable[[list[WriteDone], BaseException | None], None]


def run_callbacks(callbacks: list[WriteDone], error: BaseException | None) -> None:
    for done in callbacks:
        try:
            done(error)
        except Exception:
            log.exception("a write callback failed")


class _Writable(Protocol):
    def write(self, batch: IngestBatch) -> None: ...


class BatchWriter:
    """Owns the store's write path on a dedicated thread."""

    def __init__(
        self, store: _Writable, max_rows: int = 20000, dispatch: Dispatch = run_callbacks
    ) -> None:
        self._store = store
        self.dispatch = dispatch
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[tuple[IngestBatch, WriteDone | None] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="forewarn-writer", daemon=True)
        self._closed = False
        self.batches_committed = 0
        self.rows_committed = 0
        self.failures = 0
        self._started = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def submit(self, batch: IngestBatch, done: WriteDone | None = None) -> None:
        """Queue a batch; ``done`` runs on the writer thread after it is committed."""
        if self._closed:
            raise RuntimeError("the writer is closed")
        self._queue.put((batch, done))

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued so far, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        if self._started:
            self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            merged = first[0]
            callbacks = [first[1]] if first[1] is not None else []
            rows = merged.row_count()
            while rows < self._max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                merged.merge(nxt[0])
                rows += nxt[0].row_count()
                if nxt[1] is not None:
                    callbacks.append(nxt[1])
            error: BaseException | None = None
            try:
                self._store.write(merged)
                self.batches_committed += 1
                self.rows_committed += rows
            except Exception as exc:  # reported to every waiting adapter, never swallowed
                log.exception("writing a batch of %d readings failed", rows)
                self.failures += 1
                error = exc
            if callbacks:
                try:
                    self.dispatch(callbacks, error)
                except Exception:
                    log.exception("dispatching write callbacks failed")
