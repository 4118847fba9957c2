"""The alarm desk's use cases, once: take a handling step (on one alarm or many), add a silence,
end one. The API, the command line and the dashboard are thin callers of these functions.

Each runs inside the caller's write transaction (the platform's writer thread for the API, the
command's own for the CLI) and does, in order: may this role take the step at all (else
``403``), is the request complete (``400``), is the alarm (or device, site, silence) in the
actor's scope (else ``404``, worded as if it did not exist), does the workflow allow it now
(``409``, saying what comes first), and then the change and its audit entry, in the same
transaction. Errors are :class:`HandlingError` with the HTTP status that names their kind
and a detail written for the person who tried; the CLI prints the detail, the API answers it
as problem+json, a bulk step lists it per alarm.

Whoever runs the command line holds the database file and so the whole platform: it acts with
a city administrator's scope (:meth:`Actor.operator`).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access import audit
from forewarn.access.roles import Action, Role
from forewarn.access.scope import Scope
from forewarn.alarms.api_queries import (
    alarm_brief,
    device_site_in_scope,
    last_step,
    silence_in_scope,
    site_in_scope,
)
from forewarn.alarms.records import AlarmRecorder
from forewarn.alarms.views import BulkAnswer, BulkResult, Silence, StepAnswer, silence_view, step_view
from forewarn.alarms.workflow import ACTIONS, AlarmError, StepRequest, apply_step
from forewarn.model import AlarmState
from forewarn.times import iso

__all__ = [
    "BULK_STEPS", "MAX_ATTACHMENTS", "MAX_ATTACHMENT_BYTES", "MAX_BULK", "STEP_PERMISSIONS", "Actor", "HandlingError",
    "SilenceInput", "StepInput", "add_silence", "allowed_steps", "bulk_step", "check_permission", "end_silence",
    "keep_attachments", "safe_name", "take_step",
]

#: who may take which step: any one of the actions listed
STEP_PERMISSIONS: dict[str, tuple[Action, ...]] = {
    "ack": (Action.HANDLE_ALARMS,), "dispatch": (Action.HANDLE_ALARMS,), "resolve": (Action.HANDLE_ALARMS,),
    "close": (Action.HANDLE_ALARMS,), "record": (Action.RECORD_CHECKS,),
    "comment": (Action.RECORD_CHECKS, Action.HANDLE_ALARMS),
}
#: steps that may be taken on many alarms at once; an on-site check is one site's, never a batch's
BULK_STEPS = ("ack", "dispatch", "resolve", "close", "comment")
MAX_BULK = 500
#: an on-site check carries at most this many files, of at most this many bytes in all
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 8_000_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who takes a step: the name recorded, the reach checked, and where the request came from
    (``api``, ``cli``) for the audit log."""

    name: str
    scope: Scope
    origin: str
    role: str = ""

    @classmethod
    def operator(cls, name: str) -> Actor:
        """The person at the command line: the database file is theirs, so is every alarm."""
        return cls(name, Scope(Role.CITY_ADMIN), "cli", "operator")


class HandlingError(Exception):
    """A step or silence that cannot be taken: ``status`` says which kind of refusal (400 the
    request is incomplete, 403 not this role's, 404 not in scope, 409 not now), ``detail`` what
    to do instead."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, state: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.state = state


@dataclass(slots=True)
class StepInput:
    """What a person asks of one handling step (the actor is never part of it)."""

    action: str
    note: str = ""
    to: str = ""
    findings: str = ""
    measures: str = ""
    #: files already kept by :func:`keep_attachments` (written before the transaction begins)
    attachments: list[dict[str, object]] = field(default_factory=list)


def check_permission(actor: Actor, action: str) -> None:
    """403 unless the actor's role may take ``action`` somewhere (where: the scope decides)."""
    if action not in STEP_PERMISSIONS:
        raise HandlingError(400, f"step {action!r}: use one of {', '.join(STEP_PERMISSIONS)}")
    needed = STEP_PERMISSIONS[action]
    if not any(actor.scope.can(a) for a in needed):
        wanted = " or ".join(a.value.replace("_", " ") for a in needed)
        raise HandlingError(403, f"user {actor.name!r} ({actor.role or actor.scope.role}) may not {wanted}")


def _check_complete(step: StepInput) -> None:
    if step.action == "dispatch" and not step.to.strip():
        raise HandlingError(400, 'dispatch needs "to": the unit or person sent')
    if step.action == "record" and not step.findings.strip():
        raise HandlingError(400, 'an on-site check needs "findings": what was found')
    if step.action == "comment" and not step.note.strip():
        raise HandlingError(400, 'a comment needs "text"')


def _absent(alarm_id: int) -> HandlingError:
    return HandlingError(404, f"no alarm {alarm_id} in your scope", title="Unknown alarm")


def take_step(db: sqlite3.Connection, actor: Actor, alarm_id: int, step: StepInput, now_ms: int, *,
              recorder: AlarmRecorder | None, tz: ZoneInfo) -> StepAnswer:
    """One handling step on one alarm, audited, in the caller's transaction."""
    check_permission(actor, step.action)
    _check_complete(step)
    before = alarm_brief(db, actor.scope, alarm_id)
    if before is None:
        raise _absent(alarm_id)
    req = StepRequest(step.action, actor.name, note=step.note, to=step.to, findings=step.findings,
                      measures=step.measures, attachments=step.attachments)
    try:
        apply_step(db, alarm_id, req, now_ms, recorder)
    except AlarmError as exc:
        raise HandlingError(409, str(exc), title="Step not allowed now", state=before["state"]) from None
    after = alarm_brief(db, actor.scope, alarm_id)
    assert after is not None
    audit.record(db, actor.name, f"alarm.{step.action}", "alarm", alarm_id, before, after, actor.origin, at_ms=now_ms)
    recorded = last_step(db, alarm_id)
    assert recorded is not None
    return StepAnswer(id=alarm_id, state=AlarmState(after["state"]), level=int(after["level"]),
                      assignee=str(after["assignee"]), step=step_view(alarm_id, recorded, tz))


def bulk_step(db: sqlite3.Connection, actor: Actor, alarm_ids: Sequence[int], step: StepInput, now_ms: int, *,
              recorder: AlarmRecorder | None, tz: ZoneInfo) -> BulkAnswer:
    """The same step on many alarms (an offline storm acknowledged at once), each audited on its
    own. One alarm refused does not stop the others: each runs in its own savepoint, and the
    answer lists, per alarm, its new state or the error the step alone would have got."""
    if step.action not in BULK_STEPS:
        why = " (an on-site check is recorded alarm by alarm)" if step.action == "record" else ""
        raise HandlingError(400, f"step {step.action!r} cannot be taken in bulk: use one of {', '.join(BULK_STEPS)}"
                                 f"{why}")
    check_permission(actor, step.action)
    _check_complete(step)
    ids = list(dict.fromkeys(alarm_ids))  # each once, in the order given
    if not ids:
        raise HandlingError(400, '"ids" is empty: list the alarms to take the step on')
    if len(ids) > MAX_BULK:
        raise HandlingError(400, f"{len(ids)} alarms at once: send at most {MAX_BULK} (and the rest in another "
                                 "request)")
    results: list[BulkResult] = []
    for alarm_id in ids:
        db.execute("SAVEPOINT bulk_step")
        try:
            answer = take_step(db, actor, alarm_id, step, now_ms, recorder=recorder, tz=tz)
        except HandlingError as exc:
            db.execute("ROLLBACK TO bulk_step")
            results.append(BulkResult(id=alarm_id, ok=False, status=exc.status, detail=exc.detail))
        else:
            results.append(BulkResult(id=alarm_id, ok=True, state=answer.state))
        finally:
            db.execute("RELEASE bulk_step")
    done = sum(r.ok for r in results)
    return BulkAnswer(step=step.action, done=done, failed=len(results) - done, results=results)


# ---------------------------------------------------------------- attachments

_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_name(name: str) -> str:
    """A file name that is only a name: no folders, nothing a shell or a browser reads twice."""
    return _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip("._")[:100] or "attachment"


def keep_attachments(files: Iterable[tuple[str, bytes]], folder: Path) -> list[dict[str, object]]:
    """Write each file as ``<digest[:12]>-<name>`` in ``folder`` (before the step's transaction,
    off the event loop): the record then never depends on a file that may move. A step refused
    afterwards may leave an unused file behind."""
    files = [(safe_name(name), data) for name, data in files]
    if len(files) > MAX_ATTACHMENTS:
        raise HandlingError(400, f"{len(files)} attachments: send at most {MAX_ATTACHMENTS} with one check "
                                 "(add more with another record step)")
    total = sum(len(data) for _, data in files)
    if total > MAX_ATTACHMENT_BYTES:
        raise HandlingError(413, f"the attachments hold {total:,} bytes: at most {MAX_ATTACHMENT_BYTES:,} "
                                 f"({MAX_ATTACHMENT_BYTES // 1_000_000} MB) go with one check; send smaller photos, "
                                 "or the rest with another record step", title="Too large")
    folder.mkdir(parents=True, exist_ok=True)
    kept: list[dict[str, object]] = []
    for name, data in files:
        if not data:
            raise HandlingError(400, f"attachment {name} is empty")
        digest = hashlib.sha256(data).hexdigest()
        path = folder / f"{digest[:12]}-{name}"
        path.write_bytes(data)
        kept.append({"name": name, "stored": str(path), "sha256": digest, "bytes": len(data)})
    return kept


# ---------------------------------------------------------------- silences


@dataclass(frozen=True, slots=True)
class SilenceInput:
    """A maintenance window: one device (``mn``) or one site, optionally one rule only."""

    mn: str | None
    site_id: int | None
    until_ms: int
    from_ms: int | None = None  # None: now
    rule_id: str = ""
    note: str = ""


def _may_silence(actor: Actor) -> None:
    if not actor.scope.can(Action.HANDLE_ALARMS):
        raise HandlingError(403, f"user {actor.name!r} ({actor.role or actor.scope.role}) may not handle alarms")


def add_silence(db: sqlite3.Connection, actor: Actor, spec: SilenceInput, now_ms: int, *, tz: ZoneInfo,
                past_allowed: bool = False) -> Silence:
    """Record a maintenance window over a device or site in the actor's scope, audited.

    A window that ends before now silences nothing live; it is refused unless ``past_allowed``
    (the command line, which may record a window after the fact for data that arrives late)."""
    _may_silence(actor)
    if (spec.mn is None) == (spec.site_id is None):
        raise HandlingError(400, 'say what to silence: "mn" (one device) or "site_id" (one site), not both')
    start = now_ms if spec.from_ms is None else spec.from_ms
    if spec.until_ms <= start:
        raise HandlingError(400, f'"until" ({iso(spec.until_ms, tz)}) must be after the start ({iso(start, tz)})')
    if spec.until_ms <= now_ms and not past_allowed:
        raise HandlingError(400, f'"until" ({iso(spec.until_ms, tz)}) has passed: a silence must end in the future')
    mn = spec.mn.strip() if spec.mn is not None else ""
    if spec.mn is not None:
        if not mn:
            raise HandlingError(400, '"mn" must be a device\'s MN')
        site_id = device_site_in_scope(db, actor.scope, mn)
        if site_id is None:
            raise HandlingError(404, f"MN {mn} is not a registered device in your scope", title="Unknown device")
        site = site_in_scope(db, actor.scope, site_id)
    else:
        assert spec.site_id is not None
        site = site_in_scope(db, actor.scope, spec.site_id)
        if site is None:
            raise HandlingError(404, f"no site {spec.site_id} in your scope", title="Unknown site")
    cur = db.execute(
        "INSERT INTO silences (mn, site_id, rule_id, from_ms, until_ms, reason, actor, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (mn, spec.site_id, spec.rule_id, start, spec.until_ms, spec.note, actor.name, now_ms),
    )
    item = silence_view({"id": int(cur.lastrowid or 0), "mn": mn, "site_id": spec.site_id,
                         "site": site["name"] if site else None, "rule_id": spec.rule_id, "from_ms": start,
                         "until_ms": spec.until_ms, "reason": spec.note, "actor": actor.name,
                         "created_ms": now_ms}, tz)
    audit.record(db, actor.name, "silence.create", "silence", item.id, None, _audited(item), actor.origin,
                 at_ms=now_ms)
    return item


def end_silence(db: sqlite3.Connection, actor: Actor, silence_id: int, now_ms: int, *, tz: ZoneInfo) -> Silence:
    """End a maintenance window now (set by mistake, or the work finished early): alarms are
    announced again from this moment. Its record stays; audited."""
    _may_silence(actor)
    before = silence_in_scope(db, actor.scope, silence_id)
    if before is None:
        raise HandlingError(404, f"no silence {silence_id} in your scope", title="Unknown silence")
    if before["until_ms"] <= now_ms:
        raise HandlingError(409, f"silence {silence_id} ended at {iso(before['until_ms'], tz)} already",
                            title="Already ended")
    # a window that had not begun yet ends before it begins: it never silenced anything
    start = min(before["from_ms"], now_ms)
    db.execute("UPDATE silences SET from_ms = ?, until_ms = ? WHERE id = ?", (start, now_ms, silence_id))
    after = silence_view({**before, "from_ms": start, "until_ms": now_ms}, tz)
    audit.record(db, actor.name, "silence.end", "silence", silence_id, _audited(silence_view(before, tz)),
                 _audited(after), actor.origin, at_ms=now_ms)
    return after


def _audited(item: Silence) -> dict[str, object]:
    out: dict[str, object] = msgspec.to_builtins(item)
    return out


def allowed_steps(state: str) -> list[str]:
    """The handling steps the workflow allows an alarm in ``state`` (for the forms a page shows)."""
    return [action for action, (after, _) in ACTIONS.items() if state in after]
