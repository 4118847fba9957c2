"""The screening for doubtful data, once: run it, list its findings, confirm or dismiss one.

What regulators fear most is data that looks valid and is not: a flat line written instead
of measured, values no instrument could read, a dust monitor sprayed with water while its
neighbours read high, a clock moved, packets replayed. Each registered check
(:mod:`forewarn.stats.checks.registry`) finds one kind; a finding names its evidence (values,
times, neighbours) for an auditor to judge. *Confirm* turns it into a data-audit mark through
:func:`forewarn.stats.audit.mark` (the reason the check gives: fault or suspected tampering),
so the statistics leave its data out; *dismiss* records who judged it sound and why.

:func:`screen` only reads (a reader thread in the server, so the loop that answers devices
is never held); :func:`record` writes what it found in the caller's transaction (the writer
thread). The daily run (:mod:`forewarn.stats.screening_daily`), the API, the command line
and the dashboard all come here.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access import audit
from forewarn.access.roles import Action
from forewarn.access.scope import Scope
from forewarn.access.tx import atomic
from forewarn.model import MarkTarget
from forewarn.stats import audit as data_audit
from forewarn.stats.checks.base import CheckInput, Found
from forewarn.stats.checks.registry import CheckRegistry, builtin_checks
from forewarn.stats.checks.thresholds import Thresholds, load_thresholds
from forewarn.store import audit_marks
from forewarn.store import screening as store
from forewarn.times import iso

__all__ = [
    "FindingPage", "FindingView", "KindView", "RunResult", "ScreeningError", "confirm", "day_window", "dismiss",
    "finding_view", "kinds", "list_findings", "record", "run", "run_here", "screen",
]

#: runs a query on a read connection off the event loop and gives its result
Reader = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
#: runs work in one transaction on the writer thread and gives its result
Writer = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]

log = logging.getLogger(__name__)
MAX_NOTE = 2000
#: the longest window one run may screen (a month and a bit: a monthly review)
MAX_WINDOW_MS = 40 * 24 * 3_600_000


class ScreeningError(Exception):
    """A request the screening refuses: ``status`` as HTTP's (400, 403, 404, 409) and what to do."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class KindView(msgspec.Struct):
    kind: str
    title_zh: str
    title_en: str


class FindingView(msgspec.Struct, kw_only=True):
    """One finding as an auditor reads it."""

    id: int
    kind: str
    kind_zh: str
    kind_en: str
    state: str
    site_id: int
    site: str
    enterprise: str
    region_code: str | None
    device_id: int | None
    mn: str | None
    point_id: int | None
    point: str | None
    start: str
    start_ms: int
    end: str
    end_ms: int
    summary_zh: str
    summary_en: str
    evidence: dict[str, Any]
    found: str
    decided_by: str | None = None
    decided: str | None = None
    decision_note: str | None = None
    audit_mark_id: int | None = None


class FindingPage(msgspec.Struct):
    total: int
    findings: list[FindingView]


class RunResult(msgspec.Struct):
    """What one run screened and found."""

    run_id: int
    start: str
    end: str
    found: int
    new: int
    by_kind: dict[str, int]


def kinds(registry: CheckRegistry | None = None) -> list[KindView]:
    """The kinds of finding there are, with their titles."""
    return [KindView(c.kind, c.title_zh, c.title_en) for c in (registry or builtin_checks())]


def day_window(now_ms: int, tz: ZoneInfo, days_back: int = 1) -> tuple[int, int]:
    """The local day ``days_back`` days before the one holding ``now_ms``: [midnight, midnight)."""
    today = datetime.fromtimestamp(now_ms / 1000, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (today - timedelta(days=days_back)).replace(tzinfo=None)
    end = start + timedelta(days=1)
    return int(start.replace(tzinfo=tz).timestamp() * 1000), int(end.replace(tzinfo=tz).timestamp() * 1000)


def _check_window(from_ms: int, to_ms: int) -> None:
    if to_ms <= from_ms:
        raise ScreeningError(400, "the window's end must be after its start")
    if to_ms - from_ms > MAX_WINDOW_MS:
        raise ScreeningError(400, "a screening covers at most 40 days at once: screen a long period month by month")


def screen(db: sqlite3.Connection, scope: Scope, from_ms: int, to_ms: int, *, thresholds: Thresholds,
           tz: ZoneInfo, registry: CheckRegistry | None = None) -> list[Found]:
    """What every registered check finds in ``[from_ms, to_ms)`` among the sites in ``scope``
    (read only; findings that began before the window but reach into it are included)."""
    _check_window(from_ms, to_ms)
    inp = CheckInput(db=db, scope=scope, from_ms=from_ms, to_ms=to_ms, thresholds=thresholds, tz=tz,
                     points=store.screened_points(db, scope))
    found: list[Found] = []
    for check in registry or builtin_checks():
        started = time.perf_counter()
        these = check.find(inp)
        log.info("screening %s: %d points, %d found in %.2f s", check.kind, len(inp.points), len(these),
                 time.perf_counter() - started)
        found += these
    return [f for f in found if not _judged_already(db, f)]


def _judged_already(db: sqlite3.Connection, f: Found) -> bool:
    """Whether data audit has marked the finding's whole window of its point invalid already (a
    maintenance, a calibration, an earlier judgement): nothing left for the auditor to judge."""
    if f.point_id is None:
        return False
    covered = f.start_ms
    for a, b in audit_marks.invalid_ranges(db, [f.point_id], f.start_ms, f.end_ms).get(f.point_id, []):
        if a > covered:
            return False
        covered = max(covered, b)
    return covered >= f.end_ms


def record(db: sqlite3.Connection, found: list[Found], *, from_ms: int, to_ms: int, actor: str, tz: ZoneInfo,
           now_ms: int) -> RunResult:
    """Keep one run and what it found (in the caller's transaction). A finding continuing an
    earlier one of the same kind and target extends it; one already judged stays as judged."""
    run_id = store.start_run(db, from_ms, to_ms, actor=actor, now_ms=now_ms)
    new = 0
    for f in found:
        _, is_new = store.save_finding(
            db, kind=f.kind, target=f.target, site_id=f.site_id, device_id=f.device_id, point_id=f.point_id,
            start_ms=f.start_ms, end_ms=f.end_ms, summary_en=f.summary_en, summary_zh=f.summary_zh,
            evidence=f.evidence, run_id=run_id, now_ms=now_ms)
        new += is_new
    by_kind = dict(Counter(f.kind for f in found))
    store.finish_run(db, run_id, found=len(found), counts=by_kind, now_ms=now_ms)
    return RunResult(run_id, iso(from_ms, tz), iso(to_ms, tz), len(found), new, by_kind)


def finding_view(row: store.FindingRow, tz: ZoneInfo, registry: CheckRegistry | None = None) -> FindingView:
    check = (registry or builtin_checks()).get(row.kind)
    return FindingView(
        id=row.id, kind=row.kind, kind_zh=check.title_zh if check else row.kind,
        kind_en=check.title_en if check else row.kind, state=row.state, site_id=row.site_id, site=row.site,
        enterprise=row.enterprise, region_code=row.region_code, device_id=row.device_id, mn=row.mn,
        point_id=row.point_id, point=row.point, start=iso(row.start_ms, tz), start_ms=row.start_ms,
        end=iso(row.end_ms, tz), end_ms=row.end_ms, summary_zh=row.summary_zh, summary_en=row.summary_en,
        evidence=row.evidence, found=iso(row.found_ms, tz), decided_by=row.decided_by,
        decided=iso(row.decided_ms, tz) if row.decided_ms is not None else None, decision_note=row.decision_note,
        audit_mark_id=row.audit_mark_id,
    )


def list_findings(db: sqlite3.Connection, scope: Scope, tz: ZoneInfo, *, states: list[str] | None = None,
                  kinds_: list[str] | None = None, site_id: int | None = None, from_ms: int | None = None,
                  to_ms: int | None = None, limit: int = 100, offset: int = 0) -> FindingPage:
    """One page of findings in ``scope``, newest first; ``states`` among open, confirmed, dismissed."""
    for state in states or ():
        if state not in store.FINDING_STATES:
            raise ScreeningError(400, f"state {state!r}: use {', '.join(store.FINDING_STATES)}")
    registry = builtin_checks()
    for kind in kinds_ or ():
        if registry.get(kind) is None:
            raise ScreeningError(400, f"kind {kind!r}: use {', '.join(registry.kinds())}")
    total, rows = store.list_findings(db, scope, states=states or (), kinds=kinds_ or (), site_id=site_id,
                                      from_ms=from_ms, to_ms=to_ms, limit=limit, offset=offset)
    return FindingPage(total, [finding_view(r, tz, registry) for r in rows])


def _open_finding(db: sqlite3.Connection, finding_id: int, scope: Scope, actor: str) -> store.FindingRow:
    if not scope.can(Action.AUDIT_DATA):
        raise ScreeningError(403, f"user {actor!r} ({scope.role}) may not judge findings: reviewers (auditors) and "
                                  "administrators do")
    row = store.finding(db, finding_id, scope) if 0 < finding_id < 2**63 else None
    if row is None:
        raise ScreeningError(404, f"no finding {finding_id} in your scope")
    if row.state != "open":
        raise ScreeningError(409, f"finding {finding_id} was {row.state} already (by {row.decided_by})")
    return row


def _note(note: str, *, required: bool, what: str) -> str:
    note = note.strip()
    if required and not note:
        raise ScreeningError(400, f'{what} needs a "note": why')
    if len(note) > MAX_NOTE:
        raise ScreeningError(400, f'"note" has {len(note)} characters: at most {MAX_NOTE}')
    return note


def confirm(db: sqlite3.Connection, finding_id: int, *, actor: str, scope: Scope, note: str = "",
            origin: str = "api", now_ms: int, tz: ZoneInfo) -> FindingView:
    """Confirm a finding: its window of its point (or device) is marked invalid in data audit,
    with the reason its kind gives, and the finding links to the mark. In the caller's
    transaction: the mark and the judgement are stored together or not at all."""
    row = _open_finding(db, finding_id, scope, actor)
    text = _note(note, required=False, what="confirming")
    check = builtin_checks().get(row.kind)
    if check is None:
        raise ScreeningError(409, f"finding {finding_id} is of kind {row.kind!r}, which no check knows any more")
    target, target_id = ((MarkTarget.POINT, row.point_id) if row.point_id is not None
                         else (MarkTarget.DEVICE, row.device_id) if row.device_id is not None
                         else (MarkTarget.SITE, row.site_id))
    mark_note = f"screening finding {finding_id} ({row.kind}): {row.summary_en}" + (f"; {text}" if text else "")
    try:
        mark_id = data_audit.mark(db, actor=actor, scope=scope, target=target, target_id=int(target_id),
                                  start_ms=row.start_ms, end_ms=row.end_ms, valid=False, reason=check.reason,
                                  note=mark_note[:data_audit.MAX_NOTE], origin=origin, now_ms=now_ms)
    except data_audit.AuditError as exc:
        raise ScreeningError(exc.status, exc.detail) from None
    store.decide_finding(db, finding_id, state="confirmed", actor=actor, note=text, now_ms=now_ms,
                         audit_mark_id=mark_id)
    audit.record(db, actor, "screening.confirm", "screening_finding", finding_id, {"state": "open"},
                 {"state": "confirmed", "audit_mark_id": mark_id, "note": text}, origin, at_ms=now_ms)
    return _view(db, finding_id, scope, tz)


def dismiss(db: sqlite3.Connection, finding_id: int, *, actor: str, scope: Scope, note: str,
            origin: str = "api", now_ms: int, tz: ZoneInfo) -> FindingView:
    """Dismiss a finding as sound data (the note says why: a sensor of coarse resolution, a
    monitor behind a wall); the data stays valid. Audited."""
    _open_finding(db, finding_id, scope, actor)
    text = _note(note, required=True, what="dismissing a finding")
    store.decide_finding(db, finding_id, state="dismissed", actor=actor, note=text, now_ms=now_ms)
    audit.record(db, actor, "screening.dismiss", "screening_finding", finding_id, {"state": "open"},
                 {"state": "dismissed", "note": text}, origin, at_ms=now_ms)
    return _view(db, finding_id, scope, tz)


def _view(db: sqlite3.Connection, finding_id: int, scope: Scope, tz: ZoneInfo) -> FindingView:
    row = store.finding(db, finding_id, scope)
    assert row is not None
    return finding_view(row, tz)


async def run(read: Reader, write: Writer, *, scope: Scope, from_ms: int, to_ms: int, actor: str,
              data_dir: Path | None, tz: ZoneInfo, now_ms: int) -> RunResult:
    """Screen ``[from_ms, to_ms)`` and keep what was found: the checks on a reader (``read`` runs
    a query off the event loop), the findings on the writer (``write`` runs work in one
    transaction there). The daily schedule and the API's on-demand run both come here."""
    _check_window(from_ms, to_ms)
    found = await read(lambda db: screen(db, scope, from_ms, to_ms, thresholds=load_thresholds(data_dir), tz=tz))
    result: RunResult = await write(lambda db: record(db, found, from_ms=from_ms, to_ms=to_ms, actor=actor, tz=tz,
                                                      now_ms=now_ms))
    return result


def run_here(db: sqlite3.Connection, *, scope: Scope, from_ms: int, to_ms: int, actor: str, data_dir: Path | None,
             tz: ZoneInfo, now_ms: int) -> RunResult:
    """:func:`run` on one connection that may write (the command line, its own process)."""
    found = screen(db, scope, from_ms, to_ms, thresholds=load_thresholds(data_dir), tz=tz)
    with atomic(db):
        result: RunResult = record(db, found, from_ms=from_ms, to_ms=to_ms, actor=actor, tz=tz, now_ms=now_ms)
    return result
