"""Alarm timers: escalation when nobody acknowledges, and overdue when nobody closes.

Regulators have no staff watching screens; an alarm nobody has acknowledged within
``ack_within`` goes up one level (and is announced again), and one not closed within
``close_within`` is counted overdue, once each. Alarms of one storm (``group_id``) each take
the step, but it is announced once per group and region (:func:`storms.first_in_region`):
a hundred devices silent at once are one thing to escalate, not a hundred.
"""

from __future__ import annotations

import sqlite3
from zoneinfo import ZoneInfo

from forewarn.alarms.records import AlarmRecorder, step
from forewarn.alarms.storms import first_in_region

__all__ = ["check_timers"]


def _span(ms: int) -> str:
    if ms >= 86_400_000 and ms % 86_400_000 == 0:
        return f"{ms // 86_400_000} 天"
    if ms >= 3_600_000:
        return f"{ms / 3_600_000:g} 小时"
    if ms >= 60_000:
        return f"{ms / 60_000:g} 分钟"
    return f"{ms / 1000:g} 秒"


def check_timers(db: sqlite3.Connection, now_ms: int, ack_within_ms: int, close_within_ms: int,
                 tz: ZoneInfo, recorder: AlarmRecorder | None) -> tuple[int, int]:
    """Escalate and mark overdue what is due; returns (escalated, overdue) counts."""
    escalate = [r[0] for r in db.execute(
        "SELECT id FROM alarms WHERE state = 'firing' AND escalated = 0 AND live = 1 AND silenced = 0 "
        "AND created_ms <= ?",
        (now_ms - ack_within_ms,),
    )]
    for alarm_id in escalate:
        db.execute("UPDATE alarms SET escalated = 1, level = MIN(level + 1, 4), updated_ms = ? WHERE id = ?",
                   (now_ms, alarm_id))
        step(db, alarm_id, "escalated", "system", now_ms, f"{_span(ack_within_ms)}内无人确认，告警升级")
        if recorder is not None:
            _announce(db, recorder, alarm_id, "escalated", now_ms, f"{_span(ack_within_ms)}内无人确认，已升级",
                      f"not acknowledged within {ack_within_ms // 1000} s, escalated")
    overdue = [r[0] for r in db.execute(
        "SELECT id FROM alarms WHERE state != 'closed' AND overdue = 0 AND created_ms <= ?",
        (now_ms - close_within_ms,),
    )]
    for alarm_id in overdue:
        db.execute("UPDATE alarms SET overdue = 1, updated_ms = ? WHERE id = ?", (now_ms, alarm_id))
        step(db, alarm_id, "overdue", "system", now_ms, f"{_span(close_within_ms)}内未办结，已超期")
        if recorder is not None:
            _announce(db, recorder, alarm_id, "overdue", now_ms, f"{_span(close_within_ms)}内未办结，已超期",
                      f"not closed within {close_within_ms // 1000} s, overdue")
    return len(escalate), len(overdue)


def _announce(db: sqlite3.Connection, recorder: AlarmRecorder, alarm_id: int, event: str, now_ms: int,
              zh: str, en: str) -> None:
    """The timer's step announced: for a grouped alarm once per group and region, saying how many."""
    first, group_id, count = first_in_region(db, alarm_id, event)
    if not first:
        return
    if group_id is None:
        recorder.announce(db, alarm_id, event, now_ms)
        return
    recorder.announce(db, alarm_id, event, now_ms,
                      (f"告警组 #{group_id}：本区域 {count} 条同组告警{zh}，可一并处置",
                       f"alarm group #{group_id}: {count} alarms of this region {en}, to be handled together"))
