"""The one writer thread: batches from the event loop in, committed transactions out.

SQLite allows one writer at a time, and a commit costs the same for one row as for ten
thousand, so every batch queued while a transaction runs is merged into the next one (group
commit). Each batch carries a callback that is called after its transaction commits, and
only then does a protocol adapter answer its device: an answer means "stored".

Failures. When a merged transaction fails, each batch in it is written alone, so one bad
batch cannot take its neighbours down with it. The store says which errors can pass
(``is_transient``: the database locked or busy, a lost connection): such a batch is tried
again after a pause (0.2, 1 and 3 s), and the thread does not sleep meanwhile: it waits on
its queue and runs the jobs that come (the batches that come wait behind the one retried, in
order: the rule state and alarm events of a later batch are built on the earlier one's, and a
retried older batch must not overwrite a newer committed state). Any other error fails the
batch at once: its callback is told (the device, not answered, sends again).

A batch the rule engine judged names the rule state it touched (``keys``). When one fails,
later batches judged on top of it (those that touched the same keys before the engine undid
its effects) fail with it (:class:`BuiltOnFailed`): committing them would record decisions
taken on readings that were never stored. The engine says when it has undone a failed
batch (:meth:`BatchWriter.release`, queued in order): batches judged after that are free.
A batch with no judgement of its own that carries those states (a checkpoint) is written
without them.

Jobs (functions of the store) run on the same thread between transactions, for work that
must see every earlier write and must not race with later ones, such as claiming quarantine;
while a batch waits for its retry, jobs queued behind it run before it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from forewarn.latency import Histogram
from forewarn.store.base import IngestBatch

__all__ = ["BatchWriter", "BuiltOnFailed", "Dispatch", "WriteDone", "WriterClosed", "run_callbacks"]

log = logging.getLogger(__name__)

#: Called once the batch is committed (with None) or has failed (with the exception).
WriteDone = Callable[[BaseException | None], None]
#: Runs the callbacks of one commit; the default calls them on the writer thread, an event
#: loop passes one that hands them all to the loop at once (one wake-up per commit).
Dispatch = Callable[[list[WriteDone], BaseException | None], None]
Keys = frozenset[Hashable]

RETRY_PAUSES_S = (0.2, 1.0, 3.0)


class WriterClosed(RuntimeError):
    """The writer no longer accepts batches (the platform is stopping)."""


class BuiltOnFailed(RuntimeError):
    """Not stored: the batch was judged on the rule state of an earlier batch that could not
    be stored (its device sends again and is judged afresh)."""


def run_callbacks(callbacks: list[WriteDone], error: BaseException | None) -> None:
    for done in callbacks:
        try:
            done(error)
        except Exception:
            log.exception("a write callback failed")


class _Writable(Protocol):
    def write(self, batch: IngestBatch) -> None: ...
    def is_transient(self, exc: BaseException) -> bool: ...


class _Stop:
    """Queued by close(): everything before it is written, then the thread ends."""


class _Release:
    """Queued by release(): batches after it were judged after the engine undid ``keys``."""

    __slots__ = ("keys",)

    def __init__(self, keys: Keys) -> None:
        self.keys = keys


class _Entry:
    """A batch queued, with its callback and the rule state its judgement touched."""

    __slots__ = ("batch", "done", "keys")

    def __init__(self, batch: IngestBatch, done: WriteDone | None, keys: Keys) -> None:
        self.batch = batch
        self.done = done
        self.keys = keys


class _Retry:
    """Batches waiting for their next attempt (the thread serves jobs meanwhile)."""

    __slots__ = ("attempt", "due", "error", "group")

    def __init__(self, group: list[_Entry], attempt: int, error: Exception, due: float) -> None:
        self.group = group
        self.attempt = attempt  # retries made so far
        self.error = error
        self.due = due


S = TypeVar("S", bound=_Writable)
_Item = _Entry | _Release | Callable[[S], object] | _Stop


class BatchWriter(Generic[S]):
    """Owns the store's write path on a dedicated thread."""

    def __init__(self, store: S, max_rows: int = 20000, dispatch: Dispatch = run_callbacks,
                 *, retry_pauses_s: tuple[float, ...] = RETRY_PAUSES_S) -> None:
        self._store = store
        self.dispatch = dispatch
        self._max_rows = max_rows
        self._pauses = retry_pauses_s
        self._queue: queue.SimpleQueue[_Item[S]] = queue.SimpleQueue()
        #: taken from the queue, to be handled before it (in order)
        self._backlog: deque[_Item[S]] = deque()
        self._retry: _Retry | None = None
        #: rule state of failed batches not yet undone by the engine -> the failed batch's keys
        self._tainted: dict[Hashable, Keys] = {}
        self._thread = threading.Thread(target=self._run, name="forewarn-writer", daemon=True)
        self._closed = False
        self._started = False
        #: how long each committed transaction of readings took (for /metrics)
        self.commit_seconds = Histogram()
        #: attempts made again after an error that can pass (for /metrics)
        self.retries = 0
        #: batches not stored, by why: "error" (one that cannot pass), "retries" (one that
        #: could, past the last retry), "built_on_failed" (see BuiltOnFailed)
        self.failed: Counter[str] = Counter()

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def submit(self, batch: IngestBatch, done: WriteDone | None = None, keys: Keys = frozenset()) -> None:
        """Queue a batch; ``done`` is dispatched after it is committed (or has failed).

        ``keys``: the rule state its judgement touched (for the batches built on it)."""
        if self._closed:
            raise WriterClosed("the platform is stopping; nothing more can be stored")
        self._queue.put(_Entry(batch, done, keys))

    def submit_job(self, job: Callable[[S], object]) -> None:
        """Run ``job(store)`` on the writer thread after everything queued before it (unless
        a batch before it is waiting for a retry)."""
        if self._closed:
            raise WriterClosed("the platform is stopping")
        self._queue.put(job)

    def release(self, keys: Keys) -> None:
        """The engine has undone the failed batch that touched ``keys``: batches queued from
        now on were judged without it."""
        if self._closed:
            raise WriterClosed("the platform is stopping")
        self._queue.put(_Release(keys))

    def queue_depth(self) -> int:
        """Batches and jobs waiting for the writer (for metrics: a growing queue means the
        store cannot keep up)."""
        return self._queue.qsize() + len(self._backlog) + (len(self._retry.group) if self._retry else 0)

    def close(self) -> None:
        """Write everything queued so far, then stop the thread (waits for it)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_Stop())
        if self._started:
            self._thread.join()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            if self._retry is not None:
                self._wait_for_retry(self._retry)
                continue
            item = self._backlog.popleft() if self._backlog else self._queue.get()
            if isinstance(item, _Stop):
                return
            if isinstance(item, _Release):
                self._release(item.keys)
            elif isinstance(item, _Entry):
                group = self._group(item)
                if group:
                    self._commit(group)
            else:
                self._run_job(item)

    def _take(self) -> _Item[S] | None:
        if self._backlog:
            return self._backlog.popleft()
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _group(self, first: _Entry) -> list[_Entry]:
        """``first`` and the batches queued right behind it, up to ``max_rows``."""
        group: list[_Entry] = []
        rows = 0
        item: _Entry | None = first
        while item is not None:
            if self._ready(item):
                group.append(item)
                rows += item.batch.row_count()
            if rows >= self._max_rows:
                break
            nxt = self._take()
            if nxt is not None and not isinstance(nxt, _Entry):  # a job, a release or the stop ends it
                self._backlog.appendleft(nxt)
                break
            item = nxt
        return group

    def _ready(self, entry: _Entry) -> bool:
        """False (and the batch failed) when it was judged on a failed batch's state; else
        the failed batches' states are taken out of what it carries."""
        tainted = self._tainted
        if not tainted:
            return True
        if entry.keys and not tainted.keys().isdisjoint(entry.keys):
            for key in entry.keys:
                tainted.setdefault(key, entry.keys)
            self.failed["built_on_failed"] += 1
            log.warning("a batch of %d readings judged on a batch that could not be stored is not stored "
                        "either; its devices will send again", entry.batch.row_count())
            self._told(entry, BuiltOnFailed("judged on the rule state of a batch that could not be stored"))
            return False
        states = entry.batch.rule_states
        if states and not tainted.keys().isdisjoint(states):
            for key in [k for k in states if k in tainted]:
                del states[key]
        return True

    def _release(self, keys: Keys) -> None:
        for key in keys:
            if self._tainted.get(key) == keys:  # what that failed batch tainted, not a later one
                del self._tainted[key]

    def _run_job(self, job: Callable[[S], object]) -> None:
        try:
            job(self._store)
        except Exception:
            log.exception("a writer job failed")

    def _write(self, group: list[_Entry]) -> None:
        if len(group) == 1:
            self._store.write(group[0].batch)
            return
        merged = IngestBatch()
        for entry in group:
            merged.merge(entry.batch)
        self._store.write(merged)

    def _commit(self, group: list[_Entry], attempt: int = 0) -> None:
        started = time.perf_counter()
        try:
            self._write(group)
        except Exception as exc:
            if self._transient(exc):
                self._retry_later(group, attempt, exc)
            elif len(group) == 1:
                self._fail(group[0], exc, "error")
            else:
                log.warning("a group of %d batches failed (%s); writing them one by one", len(group), exc)
                self._write_each(group)
            return
        self.commit_seconds.observe(time.perf_counter() - started)
        if attempt:
            log.info("stored %d batches after %d retries", len(group), attempt)
        self._dispatch([e.done for e in group if e.done is not None], None)

    def _write_each(self, group: list[_Entry]) -> None:
        for i, entry in enumerate(group):
            if not self._ready(entry):
                continue
            try:
                self._store.write(entry.batch)
            except Exception as exc:
                if self._transient(exc):  # this one waits, and everything behind it
                    self._backlog.extendleft(reversed(group[i + 1:]))
                    self._retry_later([entry], 0, exc)
                    return
                self._fail(entry, exc, "error")
                continue
            if entry.done is not None:
                self._dispatch([entry.done], None)

    def _transient(self, exc: Exception) -> bool:
        try:
            return self._store.is_transient(exc)
        except Exception:
            log.exception("could not tell whether a store error can pass; taken as one that cannot")
            return False

    def _retry_later(self, group: list[_Entry], attempt: int, error: Exception) -> None:
        rows = sum(e.batch.row_count() for e in group)
        if attempt >= len(self._pauses):
            log.error("could not store %d batches (%d readings) after %d tries: %s; devices that asked "
                      "for an answer were not answered and will send again", len(group), rows, attempt + 1, error)
            for entry in group:
                self._fail(entry, error, "retries", quiet=True)
            return
        pause = self._pauses[attempt]
        self.retries += 1
        log.warning("the store could not take %d batches (%d readings) now: %s; trying again in %g s "
                    "(retry %d of %d)", len(group), rows, error, pause, attempt + 1, len(self._pauses))
        self._retry = _Retry(group, attempt + 1, error, time.monotonic() + pause)

    def _wait_for_retry(self, retry: _Retry) -> None:
        """Until the retry is due: run the jobs that come, keep everything else in order."""
        if any(not isinstance(i, _Entry | _Release | _Stop) for i in self._backlog):
            kept: deque[_Item[S]] = deque()
            for item in self._backlog:
                if isinstance(item, _Entry | _Release | _Stop):
                    kept.append(item)
                else:
                    self._run_job(item)
            self._backlog = kept
        wait = retry.due - time.monotonic()
        if wait > 0:
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                return
            if isinstance(item, _Entry | _Release | _Stop):
                self._backlog.append(item)
            else:
                self._run_job(item)
            return
        self._retry = None
        self._commit(retry.group, retry.attempt)

    def _fail(self, entry: _Entry, error: BaseException, why: str, *, quiet: bool = False) -> None:
        self.failed[why] += 1
        if not quiet:
            log.error("could not store a batch of %d readings: %s; devices that asked for an answer were "
                      "not answered and will send again", entry.batch.row_count(), error)
        for key in entry.keys:
            self._tainted.setdefault(key, entry.keys)
        self._told(entry, error)

    def _told(self, entry: _Entry, error: BaseException) -> None:
        if entry.done is not None:
            self._dispatch([entry.done], error)

    def _dispatch(self, callbacks: list[WriteDone], error: BaseException | None) -> None:
        if not callbacks:
            return
        try:
            self.dispatch(callbacks, error)
        except Exception:
            log.exception("dispatching write callbacks failed")
