"""The rule state of batches judged but not yet committed, and how to take it back.

The engine judges a batch on the event loop before the writer commits it (its events and the
state behind them must ride in the readings' transaction). Until that commit, what the batch
changed in the engine's memory is a promise: if the commit fails, the device is not answered
and sends again, and the engine must judge the resend from the state it had before, or it
would believe in an alarm that was never recorded nor announced (and never raise it).

So each judgement keeps a :class:`Journal`: the state of every key as it was before the
batch first touched it, and each point's "judged up to" mark. The engine's state is then the
committed state plus the effects of the batches in flight, in submit order. When a batch is
committed its journal is forgotten; when it fails, its keys go back to what they were before
it, which also takes back what later batches in flight built on them for those keys (the
writer fails those batches too: see ``BatchWriter``; their own journals then undo the rest).

The cost on the hot path is one copy of each state touched, once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["Journal", "Ledger", "copy_state"]

StateKey = tuple[str, str]
#: how to put a point's marks back (the engine's own objects, opaque here), and what was saved
RestoreMark = Callable[[Any, tuple[int, bool]], None]


def copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough that later changes to the state do not reach it (dicts and lists
    nest; everything else in a rule's state is immutable). The top level is copied by C and
    only nested containers are walked: a site rule's state (about 500 bytes of JSON) costs
    a third less than a copy walking every value."""
    out = state.copy()
    for key, value in state.items():
        kind = type(value)
        if kind is dict:
            out[key] = copy_state(value)
        elif kind is list:
            out[key] = [copy_state(v) if type(v) is dict else (list(v) if type(v) is list else v) for v in value]
    return out


class Journal:
    """What one batch's judgement changed: enough to undo it.

    ``states``: key -> (the live state dict, a copy of it before this batch); ``marks``: the
    engine's per-point bookkeeping object -> (its key, what it held before). ``keys`` (set by
    :meth:`Ledger.finish`) names everything touched, for the writer to know which later
    batches depend on this one.
    """

    __slots__ = ("_ledger", "keys", "marks", "seq", "states")

    def __init__(self, ledger: Ledger, seq: int) -> None:
        self._ledger = ledger
        self.seq = seq
        self.states: dict[StateKey, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.marks: dict[Any, tuple[StateKey, tuple[int, bool]]] = {}
        self.keys: frozenset[Hashable] = frozenset()

    def touch(self, key: StateKey, state: dict[str, Any]) -> None:
        """Call before changing ``state`` (the live dict of ``key``) for this batch."""
        if key not in self.states:
            self.states[key] = (state, copy_state(state))

    def settle(self, error: BaseException | None) -> None:
        """The batch was committed (None) or not (the error): forget the journal or undo it."""
        self._ledger.settle(self, error)


class Ledger:
    """The journals of batches in flight, oldest first."""

    def __init__(self, restore_mark: RestoreMark, on_undone: Callable[[set[StateKey], list[Any]], None]) -> None:
        self._restore_mark = restore_mark
        self._on_undone = on_undone
        self._inflight: dict[int, Journal] = {}
        self._seq = 0
        #: batches undone since start (for tests and the log)
        self.undone = 0

    def __len__(self) -> int:
        return len(self._inflight)

    def begin(self) -> Journal:
        self._seq += 1
        journal = Journal(self, self._seq)
        self._inflight[journal.seq] = journal
        return journal

    def finish(self, journal: Journal) -> Journal | None:
        """The judgement is complete: its journal, or None when it touched nothing."""
        if not journal.states and not journal.marks:
            self._inflight.pop(journal.seq, None)
            return None
        journal.keys = frozenset((*journal.states, *(key for key, _ in journal.marks.values())))
        return journal

    def settle(self, journal: Journal, error: BaseException | None) -> None:
        if self._inflight.pop(journal.seq, None) is None:
            return  # settled already, or never in flight
        if error is not None:
            self.undo(journal)

    def undo(self, journal: Journal) -> None:
        """Put every key the batch touched back as it was before it; later batches in flight
        lose their claim on those keys (what they built there is undone with it)."""
        self._inflight.pop(journal.seq, None)
        for live, before in journal.states.values():
            live.clear()
            live.update(before)
        for mark, (_, saved) in journal.marks.items():
            self._restore_mark(mark, saved)
        for later in self._inflight.values():
            if later.seq < journal.seq:
                continue
            for key in journal.states:
                later.states.pop(key, None)
            for mark in journal.marks:
                later.marks.pop(mark, None)
        self.undone += 1
        self._on_undone(set(journal.states), list(journal.marks))
        journal.states, journal.marks = {}, {}
