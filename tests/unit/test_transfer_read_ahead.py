"""The transfer's read-ahead thread: items in order, errors raised where they are consumed, and
a consumer that leaves early (an interrupted copy) never waits on a reader stuck at a full queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from forewarn.store.transfer.prefetch import read_ahead


def test_items_come_in_order_with_or_without_the_thread() -> None:
    for depth in (0, 1, 2):
        with read_ahead(range(100), depth=depth) as items:
            assert list(items) == list(range(100))


def test_an_error_of_the_reader_is_raised_to_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("disk")

    with pytest.raises(ValueError, match="disk"), read_ahead(failing()) as items:
        list(items)


@pytest.mark.parametrize("produced", [3, 1000])
def test_leaving_early_returns_at_once_whether_the_reader_finished_or_not(produced: int) -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError), read_ahead(range(produced), depth=2) as items:
        next(items)
        time.sleep(0.05)  # the reader fills the queue (and, for 3 items, has only its end left to put)
        raise RuntimeError("stop")
    assert time.monotonic() - started < 2
    assert not [t for t in threading.enumerate() if t.name == "transfer-read-ahead"]
