"""What the rule engine says: an alarm condition began, changed level, or ended.

Events carry everything the alarm layer needs to record and explain them (the subject's
site, enterprise and region, the readings that triggered it, a one-line explanation in
Chinese and English), so that the alarm layer never goes back to the readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Evidence", "Grouping", "RuleEvent", "SubjectInfo"]

#: The readings that made the case: (MN, code, sub-field, reading kind, from ts ms, to ts ms);
#: the alarm layer copies the stored readings of each window into the alarm's evidence, and
#: goes on following these points until the condition clears (the episode's course).
Evidence = tuple[str, str, str, str, int, int]


@dataclass(slots=True, frozen=True)
class Grouping:
    """How alarms of one cause are grouped, so that a storm is one thing to hear and handle.

    ``key`` names the cause: ``restart:<ms>`` for devices silent since before the platform
    started at that time (their silence began with the platform's own downtime), ``offline``
    for devices going silent while it runs; those group when at least ``min_members`` fire
    within ``window_ms`` of each other.
    """

    key: str
    min_members: int = 5
    window_ms: int = 300_000


@dataclass(slots=True, frozen=True)
class SubjectInfo:
    """Where an alarm's subject is, for the record, routing and scope."""

    mn: str = ""
    site_id: int = 0
    site: str = ""
    enterprise: str = ""
    region_code: str = ""
    region_name: str = ""
    point: str = ""  # "code-field" for a point subject


@dataclass(slots=True)
class RuleEvent:
    """``kind`` is ``fire`` (begins, or its level changes) or ``clear`` (the condition ended).

    ``ts_ms`` is the data time that decided it. ``live`` is False for events decided by late
    data (a device's backfill after an outage): they are recorded, not announced as new.
    """

    rule_id: str
    rule_version: int
    subject: str
    kind: str
    level: int
    ts_ms: int
    live: bool
    info: SubjectInfo
    title_zh: str
    title_en: str
    explanation_zh: str
    explanation_en: str
    evidence: list[Evidence] = field(default_factory=list)
    group: Grouping | None = None
    incident: str = ""
    low: bool = False
