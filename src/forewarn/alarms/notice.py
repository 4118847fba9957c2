"""What a notification says about an alarm: one plain record every channel renders its own way.

A notice is made when an alarm fires, escalates, clears or changes state, and is queued in the
outbox in the same transaction as that change, so that a notice is never sent for a change
that was not stored, and never lost for one that was.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["AlarmNotice"]


@dataclass(slots=True, frozen=True)
class AlarmNotice:
    """One event of one alarm, as receivers see it.

    ``event`` is one of: fired, escalated, cleared, acknowledged, dispatched, checked,
    resolved, closed, overdue. ``level`` is 1 (a rule's first stage) to 4 (most severe);
    ``colour`` the safety regulators' warning colour for it (blue, yellow, orange, red).
    """

    alarm_id: int
    event: str
    rule_id: str
    rule_version: int
    level: int
    colour: str
    state: str
    mn: str
    site: str
    enterprise: str
    region_code: str
    region_name: str
    at: str  # ISO 8601 with offset
    explanation_zh: str
    explanation_en: str
    url: str = ""
    #: what happened, in a word: 新告警 / 告警升级 / 已恢复正常 / 再次发生 ... (fired, recurred ...)
    headline_zh: str = ""
    headline_en: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text_zh(self) -> str:
        """One line for SMS and e-mail subjects."""
        headline = f"{self.headline_zh}｜" if self.headline_zh else ""
        return (f"【forewarn】{headline}{self.region_name}{self.enterprise}{self.site}：{self.explanation_zh}"
                f"（告警{self.alarm_id}，{self.at}）")
