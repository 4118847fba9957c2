"""Data audit (数据审核), once: mark a reading or a time range of a point, device or site invalid
or valid again, end an open-ended mark, revoke a mark. The API, the command line, the dashboard
and the screening's findings all call these functions.

The readings are never changed. A mark is a row laid over them (:mod:`forewarn.store.audit_marks`
says what is invalid when); the statistics, the figures and the exceedance judgements leave out
what it covers, and the aggregates of exactly the periods it touches are recomputed
(``store.aggregates.mark_dirty``, in the same transaction, so a mark is never stored without
its recomputation being due). Every change is in the audit log with who made it and why (the
reason and note), and is reversible: revoking a mark gives back what the marks before it said.

Each function runs inside the caller's write transaction and does, in order: may this role mark
data at all (403: auditors and administrators may, enterprise users may not, for it is their own
data), is the request complete (400), is the target in the actor's scope (404, worded as if it
did not exist), is the change possible now (409), then the change and its audit entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access import audit
from forewarn.access.roles import Action
from forewarn.access.scope import Scope
from forewarn.model import AUDIT_REASON_LABELS, AuditReason, MarkTarget
from forewarn.store import aggregates, audit_marks
from forewarn.store.audit_marks import MarkRow
from forewarn.times import iso

__all__ = ["MAX_NOTE", "AuditError", "DataMark", "MarkId", "end", "mark", "mark_view", "revoke"]

MarkId = int
#: no mark starts before this (2000-01-01, as no reading does)
_EARLIEST_MS = 946_684_800_000
MAX_NOTE = 2000


class AuditError(Exception):
    """A mark that cannot be made or changed: ``status`` the kind of refusal (400 incomplete,
    403 not this role's, 404 not in scope, 409 not now), ``detail`` what to do instead."""

    def __init__(self, status: int, detail: str, *, title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title


class DataMark(msgspec.Struct, kw_only=True):
    """One data-audit mark as shown: what it covers, when, invalid or valid again, why, who."""

    id: int
    target: MarkTarget
    target_id: int
    site_id: int
    site: str
    start: str
    start_ms: int
    #: None: open-ended, until it is ended
    end: str | None
    end_ms: int | None
    #: False: the range is marked invalid; True: valid again
    valid: bool
    reason: AuditReason
    reason_zh: str
    reason_en: str
    note: str
    actor: str
    origin: str
    created: str
    created_ms: int
    revoked: bool
    revoked_ms: int | None = None
    revoked_by: str | None = None
    revoke_note: str | None = None


def mark_view(row: MarkRow, tz: ZoneInfo) -> DataMark:
    """A stored mark as its answer."""
    reason = AuditReason(row.reason)
    zh, en = AUDIT_REASON_LABELS[reason]
    return DataMark(
        id=row.id, target=MarkTarget(row.target), target_id=row.target_id, site_id=row.site_id, site=row.site,
        start=iso(row.start_ms, tz), start_ms=row.start_ms,
        end=iso(row.end_ms, tz) if row.end_ms is not None else None, end_ms=row.end_ms, valid=row.valid,
        reason=reason, reason_zh=zh, reason_en=en, note=row.note, actor=row.actor, origin=row.origin,
        created=iso(row.created_ms, tz), created_ms=row.created_ms, revoked=row.revoked_ms is not None,
        revoked_ms=row.revoked_ms, revoked_by=row.revoked_by, revoke_note=row.revoke_note,
    )


def _may_mark(actor: str, scope: Scope) -> None:
    if not scope.can(Action.AUDIT_DATA):
        raise AuditError(403, f"user {actor!r} ({scope.role}) may not mark data in audit: reviewers (auditors) and "
                              "administrators do")


def _note(note: str, what: str, *, required: bool) -> str:
    note = note.strip()
    if required and not note:
        raise AuditError(400, f'{what} needs a "note": why')
    if len(note) > MAX_NOTE:
        raise AuditError(400, f'"note" has {len(note)} characters: at most {MAX_NOTE}')
    return note


def _audited(row: MarkRow) -> dict[str, object]:
    """What the audit log keeps of a mark (before and after a change)."""
    keys = ("target", "target_id", "site_id", "start_ms", "end_ms", "valid", "reason", "note", "revoked_ms",
            "revoked_by", "revoke_note")
    return {k: getattr(row, k) for k in keys}


def _recompute(db: sqlite3.Connection, points: Iterable[int], start_ms: int, end_ms: int | None, now_ms: int) -> None:
    """Tell the aggregation which periods to recompute: the mark's range on each of its points
    (an open-ended mark up to now: later data is aggregated when it comes)."""
    end = now_ms if end_ms is None else min(end_ms, max(now_ms, start_ms + 1))
    if end <= start_ms:
        return
    aggregates.mark_dirty(db, [(p, start_ms, end) for p in points])


def mark(db: sqlite3.Connection, *, actor: str, scope: Scope, target: MarkTarget | str, target_id: int,
         start_ms: int, end_ms: int | None, valid: bool, reason: AuditReason | str, note: str = "",
         origin: str = "api", now_ms: int) -> MarkId:
    """Mark ``[start_ms, end_ms)`` of a point, device or site invalid (``valid=False``) or valid
    again; ``end_ms=None``: open-ended (a maintenance going on now, until :func:`end`). A manual
    judgement needs its note. Audited; the touched periods' aggregates are due again."""
    _may_mark(actor, scope)
    try:
        kind = MarkTarget(target)
    except ValueError:
        raise AuditError(400, f"target {target!r}: use one of {', '.join(MarkTarget)}") from None
    try:
        why = AuditReason(reason)
    except ValueError:
        raise AuditError(400, f"reason {reason!r}: use one of {', '.join(AuditReason)}") from None
    text = _note(note, "a manual mark", required=why is AuditReason.MANUAL)
    if start_ms < _EARLIEST_MS:
        raise AuditError(400, "the start is before 2000: give the time the data to mark begins")
    if end_ms is not None and end_ms <= start_ms:
        raise AuditError(400, "the end must be after the start (the range is half-open: [start, end))")
    site = audit_marks.target_in_scope(db, scope, kind, target_id)
    if site is None:
        raise AuditError(404, f"no {kind} {target_id} in your scope", title=f"Unknown {kind}")
    site_id, _ = site
    mark_id = audit_marks.insert_mark(db, target=kind, target_id=target_id, site_id=site_id, start_ms=start_ms,
                                      end_ms=end_ms, valid=valid, reason=str(why), note=text, actor=actor,
                                      origin=origin, created_ms=now_ms)
    row = audit_marks.mark_in_scope(db, scope, mark_id)
    assert row is not None
    audit.record(db, actor, "data_mark.valid" if valid else "data_mark.invalid", "data_mark", mark_id, None,
                 _audited(row), origin, at_ms=now_ms)
    _recompute(db, audit_marks.points_of(db, kind, target_id), start_ms, end_ms, now_ms)
    return mark_id


def _existing(db: sqlite3.Connection, scope: Scope, mark_id: int) -> MarkRow:
    row = audit_marks.mark_in_scope(db, scope, mark_id) if 0 < mark_id < 2**63 else None
    if row is None:
        raise AuditError(404, f"no data mark {mark_id} in your scope", title="Unknown mark")
    if row.revoked_ms is not None:
        raise AuditError(409, f"data mark {mark_id} was revoked already (by {row.revoked_by})",
                         title="Already revoked")
    return row


def revoke(db: sqlite3.Connection, *, actor: str, scope: Scope, mark_id: MarkId, note: str, origin: str = "api",
           now_ms: int) -> None:
    """Take a mark back (made by mistake): it stops counting and what the marks before it said
    holds again. Its row stays, with who revoked it and why (the note is required); audited."""
    _may_mark(actor, scope)
    text = _note(note, "revoking a mark", required=True)
    before = _existing(db, scope, mark_id)
    audit_marks.set_revoked(db, mark_id, at_ms=now_ms, by=actor, note=text)
    after = audit_marks.mark_in_scope(db, scope, mark_id)
    assert after is not None
    audit.record(db, actor, "data_mark.revoke", "data_mark", mark_id, _audited(before), _audited(after), origin,
                 at_ms=now_ms)
    _recompute(db, audit_marks.points_of(db, before.target, before.target_id), before.start_ms, before.end_ms,
               now_ms)


def end(db: sqlite3.Connection, *, actor: str, scope: Scope, mark_id: MarkId, end_ms: int, note: str = "",
        origin: str = "api", now_ms: int) -> None:
    """Give an open-ended mark its end (the maintenance is over): data from ``end_ms`` on counts
    again. Audited."""
    _may_mark(actor, scope)
    text = _note(note, "ending a mark", required=False)
    before = _existing(db, scope, mark_id)
    if before.end_ms is not None:
        raise AuditError(409, f"data mark {mark_id} has its end already: revoke it and mark again to change it",
                         title="Not open-ended")
    if end_ms <= before.start_ms:
        raise AuditError(400, "the end must be after the mark's start")
    audit_marks.set_end(db, mark_id, end_ms)
    after = audit_marks.mark_in_scope(db, scope, mark_id)
    assert after is not None
    audit.record(db, actor, "data_mark.end", "data_mark", mark_id, _audited(before), {**_audited(after), "why": text},
                 origin, at_ms=now_ms)
    # from the new end on, the data counts again
    if end_ms < now_ms:
        _recompute(db, audit_marks.points_of(db, before.target, before.target_id), end_ms, now_ms, now_ms)
