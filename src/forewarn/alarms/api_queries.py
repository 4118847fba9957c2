"""Alarms and silences as one user may see them: every query carries the user's scope.

Alarms are joined to ``sites`` with a LEFT JOIN: an alarm without a site (a platform-wide one)
has no region and no enterprise, so the scope clause (``s.region_code``, ``s.enterprise_id``)
is NULL for it and only the scopes whose clause is ``1 = 1`` (a city administrator, an auditor
without a region) see it. The same holds for an alarm whose site was removed.

Used by the HTTP API (:mod:`forewarn.web.routes_alarms`); the CLI reads everything
(:mod:`forewarn.alarms.queries`), since whoever runs it already holds the database file.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from forewarn.access.scope import Scope, region_prefix, scoped
from forewarn.alarms.queries import alarm_detail
from forewarn.alarms.rule_info import rule_info
from forewarn.alarms.views import RuleInfo
from forewarn.model import AlarmState, Domain

__all__ = ["STATES", "AlarmFilter", "alarm_brief", "alarm_rule", "count_alarms", "last_step", "page_alarms",
           "scoped_alarm_detail", "scoped_silences", "count_silences", "site_in_scope", "device_site_in_scope"]

STATES = tuple(s.value for s in AlarmState)
#: the domains told by a rule id's first part (everything else is "other")
_NAMED_DOMAINS = tuple(d.value for d in Domain if d is not Domain.OTHER)

_COLUMNS = ("id", "rule_id", "rule_version", "subject", "level", "state", "condition", "live",
            "silenced", "escalated", "overdue", "mn", "site_id", "site", "enterprise", "region_code",
            "region_name", "point", "title_zh", "title_en", "explanation_zh", "explanation_en",
            "first_ts", "last_ts", "cleared_ts", "repeats", "assignee", "created_ms", "updated_ms",
            "acked_ms", "closed_ms", "group_id")
_FROM = "FROM alarms a LEFT JOIN sites s ON s.id = a.site_id"


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    """What a list of alarms is narrowed to (None: no condition)."""

    state: str | None = None
    level: int | None = None
    site_id: int | None = None
    region: str | None = None
    rule_id: str | None = None
    domain: str | None = None
    open: bool | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    #: the alarms of one storm (``group_id``), to handle them together
    group_id: int | None = None

    def where(self) -> tuple[str, list[object]]:
        """The filter's SQL conditions (after ``WHERE {scope}``) and their parameters."""
        sql = ""
        args: list[object] = []
        if self.state is not None:
            sql += " AND a.state = ?"
            args.append(self.state)
        if self.level is not None:
            sql += " AND a.level = ?"
            args.append(self.level)
        if self.site_id is not None:
            sql += " AND a.site_id = ?"
            args.append(self.site_id)
        if self.region is not None:
            prefix = region_prefix(self.region)
            sql += " AND substr(s.region_code, 1, ?) = ?"
            args += [len(prefix), prefix]
        if self.rule_id is not None:
            sql += " AND a.rule_id = ?"
            args.append(self.rule_id)
        if self.domain in _NAMED_DOMAINS:
            sql += " AND substr(a.rule_id, 1, ?) = ?"
            args += [len(self.domain) + 1, f"{self.domain}."]
        elif self.domain == Domain.OTHER:
            sql += "".join(" AND substr(a.rule_id, 1, ?) != ?" for _ in _NAMED_DOMAINS)
            for name in _NAMED_DOMAINS:
                args += [len(name) + 1, f"{name}."]
        if self.open is True:
            sql += " AND a.state != 'closed'"
        elif self.open is False:
            sql += " AND a.state = 'closed'"
        if self.from_ms is not None:
            sql += " AND a.first_ts >= ?"
            args.append(self.from_ms)
        if self.to_ms is not None:
            sql += " AND a.first_ts <= ?"
            args.append(self.to_ms)
        if self.group_id is not None:
            sql += " AND a.group_id = ?"
            args.append(self.group_id)
        return sql, args


def page_alarms(db: sqlite3.Connection, scope: Scope, flt: AlarmFilter, limit: int, offset: int
                ) -> list[dict[str, Any]]:
    """One page of the alarms in scope matching ``flt``, newest (highest id) first."""
    cond, args = flt.where()
    sql = (f"SELECT {', '.join('a.' + c for c in _COLUMNS)} {_FROM} WHERE {{scope}}{cond} "
           "ORDER BY a.id DESC LIMIT ? OFFSET ?")
    return [dict(zip(_COLUMNS, row, strict=True)) for row in db.execute(*scoped(sql, scope, [*args, limit, offset]))]


def count_alarms(db: sqlite3.Connection, scope: Scope, flt: AlarmFilter) -> int:
    cond, args = flt.where()
    return int(db.execute(*scoped(f"SELECT COUNT(*) {_FROM} WHERE {{scope}}{cond}", scope, args)).fetchone()[0])


def alarm_brief(db: sqlite3.Connection, scope: Scope, alarm_id: int) -> dict[str, Any] | None:
    """The alarm's handling state (for the audit log's before/after), or None outside the scope."""
    row = db.execute(*scoped(f"SELECT a.state, a.level, a.assignee {_FROM} WHERE a.id = ? AND {{scope}}",
                             scope, [alarm_id])).fetchone()
    return None if row is None else {"state": row[0], "level": row[1], "assignee": row[2]}


def last_step(db: sqlite3.Connection, alarm_id: int) -> dict[str, Any] | None:
    """The alarm's newest step (``step, actor, at_ms, note, data``): the one just taken."""
    row = db.execute("SELECT step, actor, at_ms, note, data FROM alarm_steps WHERE alarm_id = ? ORDER BY id DESC "
                     "LIMIT 1", (alarm_id,)).fetchone()
    if row is None:
        return None
    return {"step": row[0], "actor": row[1], "at_ms": row[2], "note": row[3], "data": json.loads(row[4])}


def scoped_alarm_detail(db: sqlite3.Connection, scope: Scope, alarm_id: int) -> dict[str, Any] | None:
    """One alarm with its steps and evidence (as :func:`alarm_detail`), or None outside the scope."""
    if alarm_brief(db, scope, alarm_id) is None:
        return None
    return alarm_detail(db, alarm_id)


def alarm_rule(db: sqlite3.Connection, detail: dict[str, Any]) -> RuleInfo | None:
    """The rule of an alarm (a row of :func:`scoped_alarm_detail`) as its recorded version stood,
    resolved for the alarm's point; None when that version is not kept."""
    row = db.execute(
        "SELECT rv.body, COALESCE(s.site_type, '') FROM alarms a "
        "JOIN rule_versions rv ON rv.rule_id = a.rule_id AND rv.version = a.rule_version "
        "LEFT JOIN sites s ON s.id = a.site_id WHERE a.id = ?", (detail["id"],)).fetchone()
    if row is None:
        return None
    point = f"{detail['mn']}/{detail['point']}" if detail["mn"] and detail["point"] else ""
    return rule_info(row[0], int(detail["rule_version"]), region=detail["region_code"] or "", site_type=row[1],
                     site=f"{detail['enterprise']}/{detail['site']}", point=point)


def site_in_scope(db: sqlite3.Connection, scope: Scope, site_id: int) -> dict[str, Any] | None:
    """The site (id, name, enterprise, region) if it exists within the scope."""
    row = db.execute(*scoped(
        "SELECT s.id, s.name, e.name, s.region_code FROM sites s JOIN enterprises e ON e.id = s.enterprise_id "
        "WHERE s.id = ? AND {scope}", scope, [site_id])).fetchone()
    return None if row is None else {"id": row[0], "name": row[1], "enterprise": row[2], "region_code": row[3]}


def device_site_in_scope(db: sqlite3.Connection, scope: Scope, mn: str) -> int | None:
    """The site id of registered device ``mn`` if that site is in the scope."""
    row = db.execute(*scoped("SELECT s.id FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.mn = ? AND {scope}",
                             scope, [mn])).fetchone()
    return None if row is None else int(row[0])


#: silences joined to the site they cover: their own site, or their device's
_SILENCE_FROM = ("FROM silences x LEFT JOIN devices d ON x.mn != '' AND d.mn = x.mn "
                 "LEFT JOIN sites s ON s.id = COALESCE(x.site_id, d.site_id)")
_SILENCE_COLUMNS = ("id", "mn", "site_id", "rule_id", "from_ms", "until_ms", "reason", "actor", "created_ms")


def scoped_silences(db: sqlite3.Connection, scope: Scope, now_ms: int, limit: int, offset: int
                    ) -> list[dict[str, Any]]:
    """Silences in scope that have not ended (running now or to come), soonest end first."""
    sql = (f"SELECT {', '.join('x.' + c for c in _SILENCE_COLUMNS)}, s.name {_SILENCE_FROM} "
           "WHERE x.until_ms > ? AND {scope} ORDER BY x.until_ms, x.id LIMIT ? OFFSET ?")
    out = []
    for row in db.execute(*scoped(sql, scope, [now_ms, limit, offset])):
        item = dict(zip(_SILENCE_COLUMNS, row[:-1], strict=True))
        item["site"] = row[-1]
        out.append(item)
    return out


def silence_in_scope(db: sqlite3.Connection, scope: Scope, silence_id: int) -> dict[str, Any] | None:
    """One silence (ended or not) if its device or site is in scope."""
    sql = f"SELECT {', '.join('x.' + c for c in _SILENCE_COLUMNS)}, s.name {_SILENCE_FROM} WHERE x.id = ? AND {{scope}}"
    row = db.execute(*scoped(sql, scope, [silence_id])).fetchone()
    if row is None:
        return None
    item = dict(zip(_SILENCE_COLUMNS, row[:-1], strict=True))
    item["site"] = row[-1]
    return item


def count_silences(db: sqlite3.Connection, scope: Scope, now_ms: int) -> int:
    sql = f"SELECT COUNT(*) {_SILENCE_FROM} WHERE x.until_ms > ? AND {{scope}}"
    return int(db.execute(*scoped(sql, scope, [now_ms])).fetchone()[0])
