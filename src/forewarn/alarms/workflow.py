"""Handling an alarm to closure: acknowledged, dispatched, checked on site, resolved, closed.

Each step records who and when, and may only follow the steps that make sense before it;
a step out of order gets an error that says what to do first. Comments are allowed at any
time. Attachments of an on-site check are kept in the data directory with their digest
(:func:`forewarn.alarms.handling.keep_attachments`), so the record does not depend on a file
that may move.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from forewarn.alarms.records import AlarmRecorder, step

__all__ = ["ACTIONS", "AlarmError", "StepRequest", "apply_step"]


class AlarmError(Exception):
    """A handling step that cannot be taken, worded for the person who tried."""


#: action -> (states it may follow, state it leads to; None keeps the state)
ACTIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "ack": (frozenset({"firing"}), "acknowledged"),
    "dispatch": (frozenset({"firing", "acknowledged", "dispatched"}), "dispatched"),
    "record": (frozenset({"dispatched", "checked"}), "checked"),
    "resolve": (frozenset({"acknowledged", "dispatched", "checked"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "comment": (frozenset({"firing", "acknowledged", "dispatched", "checked", "resolved", "closed"}), None),
}
_NEXT_HINT = {
    "firing": "acknowledge it first (ack)",
    "acknowledged": "dispatch it (dispatch --to) or resolve it",
    "dispatched": "record the on-site check (record --findings) or resolve it",
    "checked": "resolve it",
    "resolved": "close it after review (close)",
    "closed": "it is closed; only comments can be added",
}
_EVENT = {"ack": "acknowledged", "dispatch": "dispatched", "record": "checked", "resolve": "resolved",
          "close": "closed", "comment": "commented"}


@dataclass(slots=True)
class StepRequest:
    action: str
    actor: str
    note: str = ""
    to: str = ""
    findings: str = ""
    measures: str = ""
    #: files already kept by :func:`forewarn.alarms.handling.keep_attachments` (before the transaction begins)
    attachments: list[dict[str, object]] = field(default_factory=list)


def apply_step(db: sqlite3.Connection, alarm_id: int, req: StepRequest, now_ms: int,
               recorder: AlarmRecorder | None) -> str:
    """Take one handling step inside the caller's transaction; returns the new state."""
    row = db.execute("SELECT state FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
    if row is None:
        raise AlarmError(f"no alarm {alarm_id}")
    state = str(row[0])
    allowed, target = ACTIONS[req.action]
    if state not in allowed:
        raise AlarmError(f"alarm {alarm_id} is {state}: cannot {req.action} now; {_NEXT_HINT[state]}")
    if not req.actor.strip():
        raise AlarmError("say who takes the step (--by NAME)")
    if req.action == "close":
        condition = db.execute("SELECT condition FROM alarms WHERE id = ?", (alarm_id,)).fetchone()[0]
        if condition == "active":
            # closing now would hide a condition that is still going on (a leak still leaking):
            # the engine announces it again only after it clears and returns
            raise AlarmError(f"alarm {alarm_id}'s condition is still active: close it after the readings are back "
                             "to normal (the alarm notes when they are); until then it stays resolved")
    data: dict[str, object] = {}
    if req.action == "dispatch":
        if not req.to.strip():
            raise AlarmError("dispatch needs --to (the unit or person sent)")
        data["to"] = req.to
        db.execute("UPDATE alarms SET assignee = ? WHERE id = ?", (req.to, alarm_id))
    if req.action == "record":
        if not req.findings.strip():
            raise AlarmError("an on-site check needs --findings (what was found)")
        data["findings"] = req.findings
        data["measures"] = req.measures
        data["attachments"] = req.attachments
    if req.action == "comment" and not req.note.strip():
        raise AlarmError("a comment needs text")
    if target is not None:
        db.execute("UPDATE alarms SET state = ?, updated_ms = ? WHERE id = ?", (target, now_ms, alarm_id))
        if target in ("acknowledged", "dispatched"):
            db.execute("UPDATE alarms SET acked_ms = COALESCE(acked_ms, ?) WHERE id = ?", (now_ms, alarm_id))
        if target == "closed":
            db.execute("UPDATE alarms SET closed_ms = ? WHERE id = ?", (now_ms, alarm_id))
    step(db, alarm_id, _EVENT[req.action], req.actor, now_ms, req.note or req.findings, data)
    if recorder is not None and req.action != "comment":
        recorder.announce(db, alarm_id, _EVENT[req.action], now_ms)
    return target or state
