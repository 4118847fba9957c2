"""Alarms, steps and silences as a client sees them: typed answers, shaped once.

The API answers these Structs (so the OpenAPI document describes every body, and the
dashboard reads the same shapes), and the handling use cases (:mod:`forewarn.alarms.handling`)
return them. Times are ISO 8601 with the offset of the configured time zone; an attachment is
shown by its address on the API, never by where the server keeps the file.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from forewarn.model import AlarmState, Domain, domain_of
from forewarn.times import iso

__all__ = [
    "LIST_COLUMNS", "SILENCE_COLUMNS", "AlarmDetail", "AlarmGroup", "AlarmItem", "AlarmPage", "AlarmStep",
    "BulkAnswer", "BulkResult", "Course", "CoursePoint", "EvidenceReading", "Limit", "Peak", "RuleInfo", "Silence",
    "SilencePage", "StepAnswer", "alarm_detail_view", "alarm_item", "course_view", "public_data", "silence_view",
    "step_view",
]


class AlarmItem(msgspec.Struct, kw_only=True):
    """One alarm in a list: what, where, how severe, where its handling stands."""

    id: int
    rule_id: str
    rule_version: int
    level: int
    state: AlarmState
    #: ``active`` while the readings still meet the rule, ``cleared`` once they are back to normal
    condition: str
    #: false when decided by late (backfilled) data: recorded, not announced
    live: bool
    silenced: bool
    #: raised a level because nobody acknowledged it in time
    escalated: bool
    #: not closed within the time allowed
    overdue: bool
    mn: str
    site_id: int | None
    site: str
    enterprise: str
    region_code: str
    region_name: str
    point: str
    #: in the language asked for (``lang``)
    title: str
    explanation: str
    first_ts: str
    last_ts: str
    cleared_ts: str | None
    repeats: int
    assignee: str
    created: str | None
    updated: str | None
    acked: str | None
    closed: str | None
    domain: Domain
    #: the storm this alarm belongs to (many devices silent at once, or after the platform's own
    #: downtime): its alarms are announced once per region and can be handled together
    #: (``GET /api/v1/alarms?group=``); None when it stands alone
    group_id: int | None = None


#: the list's columns, in order (the CSV's header)
LIST_COLUMNS = tuple(AlarmItem.__struct_fields__)


class AlarmPage(msgspec.Struct, kw_only=True):
    items: list[AlarmItem]
    total: int
    limit: int
    offset: int
    #: the next page's address, None on the last page
    next: str | None


class AlarmStep(msgspec.Struct, kw_only=True):
    """One entry of an alarm's record: ``fired``, ``acknowledged`` ... ``closed``, ``commented``."""

    step: str
    actor: str
    at: str
    note: str
    #: ``to`` of a dispatch; ``findings``, ``measures``, ``attachments`` (with their ``url``) of a check
    data: dict[str, Any]


class EvidenceReading(msgspec.Struct, kw_only=True):
    """A stored reading kept with the alarm as its evidence."""

    mn: str
    code: str
    field: str
    kind: str
    ts: str
    value: float | None
    flag: str


class Peak(msgspec.Struct, kw_only=True):
    """The extreme reading of the alarm's own point during the episode (its lowest for a rule
    that watches for low values)."""

    mn: str
    code: str
    field: str
    unit: str
    value: float
    ts: str
    low: bool


class CoursePoint(msgspec.Struct, kw_only=True):
    """One point of the course: how many readings, its highest and lowest, and when."""

    mn: str
    code: str
    field: str
    kind: str
    unit: str
    readings: int
    max: float
    max_ts: str
    min: float
    min_ts: str


class Course(msgspec.Struct, kw_only=True):
    """The episode as its evidence shows it: from before it began (``from_ts``, where a
    playback opens) through its start, to its end (None while it goes on)."""

    from_ts: str
    start_ts: str
    end_ts: str | None
    ongoing: bool
    #: start to end, or to the newest reading while it goes on
    duration_s: float
    peak: Peak | None
    points: list[CoursePoint]


class AlarmGroup(msgspec.Struct, kw_only=True):
    """The storm an alarm belongs to: ``platform_restart`` (silent since before the platform
    came back; ``cause_alarm_id`` is the platform's downtime) or ``offline_storm``."""

    id: int
    cause: str
    cause_alarm_id: int | None
    first: str
    last: str


class Limit(msgspec.Struct, kw_only=True):
    """One stage of a threshold rule, as it applies to this alarm's point (overrides included)."""

    level: int
    value: float
    clear: float | None
    name_zh: str
    name_en: str


class RuleInfo(msgspec.Struct, kw_only=True):
    """The rule as it stood in the version that raised the alarm."""

    id: str
    version: int
    kind: str
    title_zh: str
    title_en: str
    #: the regulation or standard the rule follows
    source: str
    #: ``>=`` or ``<=`` for a threshold rule, else empty
    op: str
    limits: list[Limit]


class AlarmDetail(AlarmItem, kw_only=True):
    """One alarm with both languages, its whole record, its evidence and the steps open to it."""

    subject: str
    title_zh: str
    title_en: str
    explanation_zh: str
    explanation_en: str
    steps: list[AlarmStep]
    evidence: list[EvidenceReading]
    #: None when the rule's version is no longer known
    rule: RuleInfo | None
    #: the handling steps its state allows now (ack, dispatch, record, resolve, close, comment)
    next_steps: list[str]
    #: the episode read from the evidence: start, end, duration, peak
    course: Course | None = None
    group: AlarmGroup | None = None


class StepAnswer(msgspec.Struct, kw_only=True):
    """What a handling step led to: the alarm's state, level and assignee, and the step recorded."""

    id: int
    state: AlarmState
    level: int
    assignee: str
    step: AlarmStep


class BulkResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One alarm of a bulk step: ``ok`` with its new ``state``, or the ``status`` and ``detail``
    that the same step on that alarm alone would have been answered."""

    id: int
    ok: bool
    state: AlarmState | None = None
    status: int | None = None
    detail: str | None = None


class BulkAnswer(msgspec.Struct, kw_only=True):
    step: str
    #: how many were taken and how many refused
    done: int
    failed: int
    results: list[BulkResult]


class Silence(msgspec.Struct, kw_only=True):
    """A maintenance window: alarms raised in it are recorded but not announced."""

    id: int
    #: the one device silenced, or None when it is a whole site
    mn: str | None
    site_id: int | None
    site: str | None
    #: only this rule, or None for every rule
    rule_id: str | None
    from_: str = msgspec.field(name="from")
    until: str
    note: str
    actor: str
    created: str


SILENCE_COLUMNS = tuple(Silence.__struct_encode_fields__)


class SilencePage(msgspec.Struct, kw_only=True):
    items: list[Silence]
    total: int
    limit: int
    offset: int
    next: str | None


# ---------------------------------------------------------------- shaping rows


def _when(ms: int | None, tz: ZoneInfo) -> str | None:
    return None if ms is None else iso(int(ms), tz)


def _item_fields(row: dict[str, Any], lang: str, tz: ZoneInfo) -> dict[str, Any]:
    return {
        **{k: row[k] for k in ("id", "rule_id", "rule_version", "level", "condition", "mn", "site_id", "site",
                               "enterprise", "region_code", "region_name", "point", "repeats", "assignee")},
        "state": AlarmState(row["state"]),
        **{flag: bool(row[flag]) for flag in ("live", "silenced", "escalated", "overdue")},
        "title": row[f"title_{lang}"], "explanation": row[f"explanation_{lang}"],
        "first_ts": iso(int(row["first_ts"]), tz), "last_ts": iso(int(row["last_ts"]), tz),
        "cleared_ts": _when(row["cleared_ts"], tz),
        **{key: _when(row[f"{key}_ms"], tz) for key in ("created", "updated", "acked", "closed")},
        "domain": domain_of(row["rule_id"]),
        "group_id": row.get("group_id"),
    }


def alarm_item(row: dict[str, Any], lang: str, tz: ZoneInfo) -> AlarmItem:
    """An alarm row (as :mod:`forewarn.alarms.queries` reads it) in the list's shape."""
    return AlarmItem(**_item_fields(row, lang, tz))


def public_data(alarm_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A step's data as a client may see it: an attachment's address on this API instead of
    where the server keeps the file."""
    files = data.get("attachments")
    if not isinstance(files, list):
        return data
    shown = []
    for f in files:
        if isinstance(f, dict):
            f = {k: v for k, v in f.items() if k != "stored"}
            f["url"] = f"/api/v1/alarms/{alarm_id}/attachments/{f.get('sha256', '')}"
        shown.append(f)
    return {**data, "attachments": shown}


def step_view(alarm_id: int, step: dict[str, Any], tz: ZoneInfo) -> AlarmStep:
    """A step row (``step, actor, at_ms, note, data``) as the API shows it."""
    return AlarmStep(step=step["step"], actor=step["actor"], at=iso(int(step["at_ms"]), tz), note=step["note"],
                     data=public_data(alarm_id, step["data"]))


def alarm_detail_view(detail: dict[str, Any], lang: str, tz: ZoneInfo, rule: RuleInfo | None,
                      next_steps: list[str]) -> AlarmDetail:
    """An alarm with its steps and evidence (as :func:`forewarn.alarms.queries.alarm_detail`)."""
    alarm_id = int(detail["id"])
    return AlarmDetail(
        **_item_fields(detail, lang, tz),
        **{k: detail[k] for k in ("subject", "title_zh", "title_en", "explanation_zh", "explanation_en")},
        steps=[step_view(alarm_id, s, tz) for s in detail["steps"]],
        evidence=[EvidenceReading(mn=e["mn"], code=e["code"], field=e["field"], kind=e["kind"],
                                  ts=iso(int(e["ts_ms"]), tz), value=e["value"], flag=e["flag"])
                  for e in detail["evidence"]],
        rule=rule, next_steps=next_steps, course=course_view(detail.get("course"), tz),
        group=_group_view(detail.get("group"), tz),
    )


def course_view(course: dict[str, Any] | None, tz: ZoneInfo) -> Course | None:
    """The course (as :func:`forewarn.alarms.course.summary` gives it) with ISO times."""
    if course is None:
        return None
    peak = course["peak"]
    return Course(
        from_ts=iso(int(course["from_ts_ms"]), tz), start_ts=iso(int(course["start_ts_ms"]), tz),
        end_ts=_when(course["end_ts_ms"], tz), ongoing=bool(course["ongoing"]),
        duration_s=course["duration_ms"] / 1000,
        peak=None if peak is None else Peak(mn=peak["mn"], code=peak["code"], field=peak["field"], unit=peak["unit"],
                                            value=peak["value"], ts=iso(int(peak["ts_ms"]), tz), low=peak["low"]),
        points=[CoursePoint(mn=p["mn"], code=p["code"], field=p["field"], kind=p["kind"], unit=p["unit"],
                            readings=p["readings"], max=p["max"], max_ts=iso(int(p["max_ts_ms"]), tz), min=p["min"],
                            min_ts=iso(int(p["min_ts_ms"]), tz)) for p in course["points"]],
    )


def _group_view(group: dict[str, Any] | None, tz: ZoneInfo) -> AlarmGroup | None:
    if group is None:
        return None
    return AlarmGroup(id=group["id"], cause=group["cause"], cause_alarm_id=group["cause_alarm_id"],
                      first=iso(int(group["first_ms"]), tz), last=iso(int(group["last_ms"]), tz))


def silence_view(row: dict[str, Any], tz: ZoneInfo) -> Silence:
    """A silence row (``from_ms``, ``until_ms``, ``reason`` ...) with its site's name."""
    return Silence(id=int(row["id"]), mn=row["mn"] or None, site_id=row["site_id"], site=row["site"],
                   rule_id=row["rule_id"] or None, from_=iso(int(row["from_ms"]), tz),
                   until=iso(int(row["until_ms"]), tz), note=row["reason"], actor=row["actor"],
                   created=iso(int(row["created_ms"]), tz))
