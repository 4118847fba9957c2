"""A site's lifecycle: new, active, maintenance, stopped, retired, each change with its date and reason.

The environment bureau decides when a site is commissioned, goes into maintenance, is ordered
to stop production or is closed for good; an inspector asking "since when is this site stopped,
and why" needs the answer years later. So a status change is one use case,
:func:`change_site_status`, that the API, the command line and the dashboard all call: it
checks the user's reach (404 outside their scope, 403 outside the region they may change),
that the change is one the table :data:`TRANSITIONS` allows, that a reason is given and the
date it took effect is not in the future nor before the previous change; then it sets
``sites.status``, keeps the change in ``site_status_changes``, writes the audit log and bumps
the registry version (a retired site's devices are refused from then on).

A registry import or a site created through the API also changes a site's status; they record
their change here with :func:`record_change`, so the history is complete whichever way the
status moved.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from forewarn.access import audit
from forewarn.access.scope import Scope, scoped
from forewarn.model import SiteStatus
from forewarn.times import iso

__all__ = [
    "MAX_REASON",
    "TRANSITIONS",
    "LifecycleError",
    "SiteLifecycle",
    "SiteStatusBody",
    "SiteStatusChange",
    "change_site_status",
    "record_change",
    "site_lifecycle",
    "transition_problem",
]

S = SiteStatus
#: where a site may go from each status; a retired site may be brought back into operation
TRANSITIONS: dict[SiteStatus, tuple[SiteStatus, ...]] = {
    S.NEW: (S.ACTIVE, S.STOPPED, S.RETIRED),
    S.ACTIVE: (S.MAINTENANCE, S.STOPPED, S.RETIRED),
    S.MAINTENANCE: (S.ACTIVE, S.STOPPED, S.RETIRED),
    S.STOPPED: (S.ACTIVE, S.MAINTENANCE, S.RETIRED),
    S.RETIRED: (S.ACTIVE,),
}
MAX_REASON = 500
#: a date a little ahead of the clock is still "today" somewhere in the country
_AHEAD_MS = 5 * 60 * 1000


class LifecycleError(Exception):
    """A change that cannot be made: an HTTP-like status and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SiteStatusBody(msgspec.Struct, forbid_unknown_fields=True):
    """A status change as a person asks for it."""

    status: str
    reason: str
    #: when it took effect: ISO 8601 date or time (local zone without an offset); absent: now
    effective: str | None = None


class SiteStatusChange(msgspec.Struct):
    """One change of a site's status, as kept."""

    id: int
    site_id: int
    previous: str | None
    status: str
    effective: str
    effective_ms: int
    reason: str
    actor: str
    origin: str
    at: str


class SiteLifecycle(msgspec.Struct):
    """A site's status, since when, where it may go next, and every change, newest first."""

    site_id: int
    site: str
    enterprise: str
    region_code: str | None
    status: str
    since: str | None
    allowed: list[str]
    changes: list[SiteStatusChange]


def transition_problem(current: str, wanted: str) -> str | None:
    """What is wrong with moving a site from ``current`` to ``wanted``, or None."""
    try:
        target = SiteStatus(wanted)
    except ValueError:
        return f"status {wanted!r} is not one of {', '.join(s.value for s in SiteStatus)}"
    try:
        here = SiteStatus(current)
    except ValueError:  # a status stored before the lifecycle existed: any move out of it is allowed
        return None
    if target is here:
        return f"the site is {here.value} already"
    allowed = TRANSITIONS[here]
    if target not in allowed:
        return (f"a {here.value} site cannot become {target.value} "
                f"(it can become {', '.join(s.value for s in allowed)})")
    return None


def record_change(db: sqlite3.Connection, site_id: int, previous: str | None, status: str, *, effective_ms: int,
                  reason: str, actor: str, origin: str, at_ms: int) -> int:
    """Keep one change in the site's history (in the caller's transaction); its id."""
    cur = db.execute(
        "INSERT INTO site_status_changes (site_id, previous, status, effective_ms, reason, actor, origin, at_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (site_id, previous, status, effective_ms, reason, actor, origin, at_ms))
    return int(cur.lastrowid or 0)


_SITE_SQL = ("SELECT s.id, s.name, e.name, s.region_code, s.status FROM sites s "
             "JOIN enterprises e ON e.id = s.enterprise_id WHERE s.id = ? AND {scope}")


def _site(db: sqlite3.Connection, site_id: int, scope: Scope) -> tuple[Any, ...] | None:
    row = db.execute(*scoped(_SITE_SQL, scope, [site_id])).fetchone()
    return None if row is None else tuple(row)


def site_lifecycle(db: sqlite3.Connection, site_id: int, scope: Scope, tz: ZoneInfo) -> SiteLifecycle | None:
    """The site's lifecycle as the user may see it; None when it does not exist or is out of scope."""
    site = _site(db, site_id, scope)
    if site is None:
        return None
    id_, name, enterprise, region, status = site
    rows = db.execute(
        "SELECT id, site_id, previous, status, effective_ms, reason, actor, origin, at_ms FROM site_status_changes "
        "WHERE site_id = ? ORDER BY effective_ms DESC, id DESC", (site_id,)).fetchall()
    changes = [SiteStatusChange(i, s, prev, st, iso(eff, tz), eff, reason, actor, origin, iso(at, tz))
               for i, s, prev, st, eff, reason, actor, origin, at in rows]
    current = [c for c in changes if c.status == status]
    try:
        allowed = [s.value for s in TRANSITIONS[SiteStatus(status)]]
    except ValueError:
        allowed = [s.value for s in SiteStatus if s.value != status]
    return SiteLifecycle(id_, name, enterprise, region, status, current[0].effective if current else None,
                         allowed, changes)


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise LifecycleError(400, "reason: say why the status changes (e.g. 停产整改 by order of the bureau)")
    if len(reason) > MAX_REASON:
        raise LifecycleError(400, f"reason: at most {MAX_REASON} characters (got {len(reason)})")
    if not reason.replace("\n", " ").isprintable():
        raise LifecycleError(400, "reason: holds a control character (a tab or NUL): remove it")
    return reason


def change_site_status(db: sqlite3.Connection, site_id: int, status: str, *, reason: str, effective_ms: int | None,
                       scope: Scope, actor: str, origin: str, now_ms: int, tz: ZoneInfo) -> SiteLifecycle:
    """Move one site to ``status`` (inside the caller's transaction, on the writer thread); the
    site's lifecycle after the change. Raises :class:`LifecycleError` with what to do instead."""
    site = _site(db, site_id, scope)
    if site is None:
        raise LifecycleError(404, f"no site {site_id} in your scope")
    _, name, _, region, current = site
    if not scope.allows_region(region):
        raise LifecycleError(403, f"site {name} lies outside the region you may change: "
                                  "a city administrator can change its status")
    problem = transition_problem(current, status)
    if problem:
        raise LifecycleError(409 if status in set(SiteStatus) else 400, problem)
    why = _reason(reason)
    effective = now_ms if effective_ms is None else effective_ms
    if effective > now_ms + _AHEAD_MS:
        raise LifecycleError(400, f"effective {iso(effective, tz)} is in the future: record the change "
                                  "when it takes effect")
    last = db.execute("SELECT MAX(effective_ms) FROM site_status_changes WHERE site_id = ?", (site_id,)).fetchone()[0]
    if last is not None and effective < last:
        raise LifecycleError(400, f"effective {iso(effective, tz)} is before the site's last change "
                                  f"({iso(int(last), tz)}): the history would run backwards")
    db.execute("UPDATE sites SET status = ? WHERE id = ?", (status, site_id))
    change_id = record_change(db, site_id, current, status, effective_ms=effective, reason=why, actor=actor,
                              origin=origin, at_ms=now_ms)
    audit.record(db, actor, "site.status", "site", site_id, {"status": current},
                 {"status": status, "effective": iso(effective, tz), "reason": why, "change": change_id}, origin,
                 at_ms=now_ms)
    # the pipeline reloads its devices when the version moves: a retired site's are refused at once
    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'registry_version'")
    after = site_lifecycle(db, site_id, scope, tz)
    assert after is not None
    return after
