"""Read the next chunks while the current one is written: the source and the target overlap.

A chunk's time goes to reading it from SQLite (the sqlite3 module lets go of the GIL while
SQLite steps) and to writing it into PostgreSQL (the server builds its index meanwhile); one
reader thread a few chunks ahead lets the two run at once. The queue is short, so memory stays
at a few chunks, and leaving early (an error, an injected stop) stops the reader before the
source's connection is used again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")
_END = object()


@contextmanager
def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[Iterator[T]]:
    """``items`` produced by a thread at most ``depth`` ahead of the consumer (0: no thread)."""
    if depth <= 0:
        yield iter(items)
        return
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        """Put ``item`` on the queue unless the consumer left; False if it did. Every put
        waits in short steps, so a reader never blocks forever on a queue nobody empties."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(exc)

    thread = threading.Thread(target=produce, name="transfer-read-ahead", daemon=True)
    thread.start()

    def consume() -> Iterator[T]:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    try:
        yield consume()
    finally:
        stop.set()  # a reader waiting on a full queue sees it within its put's timeout
        thread.join()
