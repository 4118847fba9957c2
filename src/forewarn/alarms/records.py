"""Recording the engine's events as alarms, inside the readings' own transaction.

One open alarm per rule and subject: a condition that fires again while its alarm is open
adds a repeat to it (and raises its level if higher), never a second row. Rules that share
an ``incident`` (treatment stopped early, then off for 10 minutes, then started late) share
that alarm too: one happening, one alarm, at the highest level any of them saw. A cleared
condition is noted on the alarm, which stays open until people handle it. Evidence (the
stored readings of the episode's course, :mod:`forewarn.alarms.course`) is copied onto the
alarm, silence storms are grouped (:mod:`forewarn.alarms.storms`), and notices are queued in
the outbox in the same transaction, so no notice goes out for an alarm that was not stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from forewarn.alarms import course, storms
from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify.outbox import enqueue
from forewarn.rules.events import RuleEvent
from forewarn.rules.model import COLOURS
from forewarn.store.base import IngestBatch
from forewarn.times import iso

__all__ = ["AlarmRecorder", "Router", "notice_for", "step"]

#: Which outbox channels a notice goes to (empty: none).
Router = Callable[[AlarmNotice], list[str]]

_EVENT_ZH = {
    "fired": "新告警", "escalated": "告警升级", "cleared": "已恢复正常", "recurred": "再次发生",
    "reopened": "已处置后再次发生", "acknowledged": "已确认", "dispatched": "已派单", "checked": "已现场核查",
    "resolved": "已处置", "closed": "已办结", "overdue": "超期未办结", "storm": "设备批量离线",
}

_OPEN_COLUMNS = "id, data_level, condition, state, rule_id, cleared_ts, course"


@dataclass(slots=True, frozen=True)
class _Open:
    """The open alarm a decision lands on."""

    id: int
    data_level: int
    condition: str
    state: str
    rule_id: str
    cleared_ts: int | None
    course: str


_ALARM_COLUMNS = (
    "id, rule_id, rule_version, level, state, mn, site, enterprise, region_code, region_name, "
    "explanation_zh, explanation_en, first_ts"
)


def notice_for(db: sqlite3.Connection, alarm_id: int, event: str, tz: ZoneInfo, at_ms: int,
               words: tuple[str, str] | None = None, headline: str = "") -> AlarmNotice:
    row = db.execute(f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
    (aid, rule_id, version, level, state, mn, site, enterprise, region_code, region_name,
     zh, en, _) = row
    if words is not None:
        zh, en = words
    return AlarmNotice(
        alarm_id=aid, event=event, rule_id=rule_id, rule_version=version, level=level,
        colour=COLOURS.get(level, "red"), state=state, mn=mn, site=site, enterprise=enterprise,
        region_code=region_code, region_name=region_name,
        at=iso(at_ms, tz),
        explanation_zh=zh, explanation_en=en,
        headline_zh=_EVENT_ZH.get(headline or event, headline or event), headline_en=headline or event,
    )


def step(db: sqlite3.Connection, alarm_id: int, name: str, actor: str, at_ms: int, note: str = "",
         data: dict[str, object] | None = None) -> None:
    db.execute(
        "INSERT INTO alarm_steps (alarm_id, step, actor, at_ms, note, data) VALUES (?, ?, ?, ?, ?, ?)",
        (alarm_id, name, actor, at_ms, note, json.dumps(data or {}, ensure_ascii=False)),
    )


class AlarmRecorder:
    """A store batch hook: turns a batch's rule events into alarm rows, steps and notices."""

    def __init__(self, tz: ZoneInfo, route: Router | None, clock: Callable[[], float]) -> None:
        self.tz = tz
        self.route = route
        self.clock = clock
        #: called (on the writer thread) after a notice is queued, to wake the dispatcher
        self.on_enqueued: Callable[[], object] | None = None

    def __call__(self, db: sqlite3.Connection, batch: IngestBatch) -> None:
        if not batch.rule_events:
            return
        now = int(self.clock() * 1000)
        grouped: list[tuple[int, RuleEvent, bool]] = []
        for event in batch.rule_events:
            if event.kind == "fire":
                self._fire(db, event, now, grouped)
            else:
                self._clear(db, event, now)
        if grouped:
            storms.settle(db, grouped, now, lambda alarm_id, words: self.announce(
                db, alarm_id, "fired", now, words, "storm" if words is not None else ""))

    def _open(self, db: sqlite3.Connection, event: RuleEvent) -> _Open | None:
        row = db.execute(
            f"SELECT {_OPEN_COLUMNS} FROM alarms WHERE rule_id = ? AND subject = ? AND state != 'closed'",
            (event.rule_id, event.subject),
        ).fetchone()
        if row is None and event.incident:  # another rule already saw this incident here
            row = db.execute(
                f"SELECT {_OPEN_COLUMNS} FROM alarms WHERE incident = ? AND subject = ? AND state != 'closed' "
                "ORDER BY id LIMIT 1", (event.incident, event.subject),
            ).fetchone()
        return None if row is None else _Open(int(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4]),
                                              row[5], str(row[6]))

    def _fire(self, db: sqlite3.Connection, e: RuleEvent, now: int, grouped: list[tuple[int, RuleEvent, bool]]
              ) -> None:
        found = self._open(db, e)
        if found is not None:
            self._again(db, e, now, found)
            return
        silenced = self._silenced(db, e, now)
        cur = db.execute(
            "INSERT INTO alarms (rule_id, rule_version, subject, level, data_level, state, condition, live, "
            "silenced, mn, site_id, site, enterprise, region_code, region_name, point, title_zh, title_en, "
            "explanation_zh, explanation_en, first_ts, last_ts, created_ms, updated_ms, incident, course) "
            "VALUES (?, ?, ?, ?, ?, 'firing', 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.rule_id, e.rule_version, e.subject, e.level, e.level, int(e.live), int(silenced), e.info.mn,
             e.info.site_id or None, e.info.site, e.info.enterprise, e.info.region_code,
             e.info.region_name, e.info.point, e.title_zh, e.title_en, e.explanation_zh,
             e.explanation_en, e.ts_ms, e.ts_ms, now, now, e.incident,
             course.course_spec(e) if e.evidence else ""),
        )
        alarm_id = int(cur.lastrowid or 0)
        note = "" if e.live else "由补传数据判定（非实时）"
        step(db, alarm_id, "fired", "system", now, note or e.explanation_zh,
             {"level": e.level, "data_time": e.ts_ms, "live": e.live, "rule_version": e.rule_version,
              "silenced": silenced})
        course.copy_windows(db, alarm_id, e)
        if e.group is not None:  # a silence: announced as part of its storm, or alone (storms.settle)
            grouped.append((alarm_id, e, e.live and not silenced))
        elif e.live and not silenced:
            self.announce(db, alarm_id, "fired", now)

    def _again(self, db: sqlite3.Connection, e: RuleEvent, now: int, found: _Open) -> None:
        """The condition fired again on an open alarm: a repeat, never a second alarm.

        Announced when people need to know: the data reached a higher level than before, the
        condition came back after it had cleared, or it came back on an alarm already marked
        resolved (which is then firing again, so that nobody closes it unaware). Another rule of
        the same incident deciding at the very reading that cleared it (treatment came back
        late: a late start) adds its finding as a note; it does not reopen what just ended.
        """
        alarm_id = found.id
        spec = course.course_spec(e, found.course) if e.evidence else found.course
        other_rule = e.rule_id != found.rule_id
        if other_rule and found.condition == "cleared" and found.cleared_ts == e.ts_ms:
            db.execute("UPDATE alarms SET course = ?, updated_ms = ? WHERE id = ?", (spec, now, alarm_id))
            step(db, alarm_id, "noted", "system", now, e.explanation_zh,
                 {"level": e.level, "data_time": e.ts_ms, "live": e.live, "rule_id": e.rule_id,
                  "rule_version": e.rule_version, "explanation_en": e.explanation_en})
            course.copy_windows(db, alarm_id, e)
            return
        higher = e.level > found.data_level
        recurred = found.condition == "cleared"
        reopened = found.state == "resolved"
        db.execute(
            "UPDATE alarms SET repeats = repeats + 1, condition = 'active', last_ts = MAX(last_ts, ?), "
            "level = MAX(level, ?), data_level = MAX(data_level, ?), explanation_zh = ?, explanation_en = ?, "
            "updated_ms = ?, course = ?, state = CASE WHEN state = 'resolved' THEN 'firing' ELSE state END "
            "WHERE id = ?",
            (e.ts_ms, e.level, e.level, e.explanation_zh, e.explanation_en, now, spec, alarm_id),
        )
        if other_rule and higher:  # the incident is now what the graver rule says it is
            db.execute(
                "UPDATE alarms SET rule_id = ?, rule_version = ?, title_zh = ?, title_en = ? WHERE id = ? "
                "AND NOT EXISTS (SELECT 1 FROM alarms b WHERE b.rule_id = ? AND b.subject = ? "
                "AND b.state != 'closed' AND b.id != ?)",
                (e.rule_id, e.rule_version, e.title_zh, e.title_en, alarm_id, e.rule_id, e.subject, alarm_id))
        name = "escalated" if higher else "reopened" if reopened else "recurred" if recurred else "repeated"
        step(db, alarm_id, name, "system", now, e.explanation_zh,
             {"level": e.level, "data_time": e.ts_ms, "live": e.live, "rule_version": e.rule_version,
              **({"rule_id": e.rule_id} if other_rule else {})})
        course.copy_windows(db, alarm_id, e)
        silenced = self._silenced(db, e, now)
        if e.live and not silenced and name != "repeated":
            self.announce(db, alarm_id, "escalated" if higher else "fired", now,
                          (e.explanation_zh, e.explanation_en), name)

    def _clear(self, db: sqlite3.Connection, e: RuleEvent, now: int) -> None:
        found = self._open(db, e)
        if found is None or found.condition == "cleared":
            return
        alarm_id = found.id
        db.execute(
            "UPDATE alarms SET condition = 'cleared', cleared_ts = ?, updated_ms = ? WHERE id = ?",
            (e.ts_ms, now, alarm_id),
        )
        step(db, alarm_id, "cleared", "system", now, e.explanation_zh, {"data_time": e.ts_ms, "live": e.live})
        # the episode is over: its whole course, up to the reading that ended it, is kept
        course.copy_course(db, alarm_id, found.course, e.ts_ms)
        if e.live:
            self.announce(db, alarm_id, "cleared", now, (e.explanation_zh, e.explanation_en))

    def _silenced(self, db: sqlite3.Connection, e: RuleEvent, now: int) -> bool:
        row = db.execute(
            "SELECT 1 FROM silences WHERE from_ms <= ? AND until_ms > ? "
            "AND (mn = '' OR mn = ?) AND (site_id IS NULL OR site_id = ?) AND (rule_id = '' OR rule_id = ?) "
            "AND NOT (mn = '' AND site_id IS NULL AND rule_id = '') LIMIT 1",
            (now, now, e.info.mn, e.info.site_id, e.rule_id),
        ).fetchone()
        return row is not None

    def announce(self, db: sqlite3.Connection, alarm_id: int, event: str, now: int,
                 words: tuple[str, str] | None = None, headline: str = "") -> None:
        """Queue a notice of this alarm event for the channels its routes name.

        ``words`` (zh, en) replace the alarm's firing explanation (a clear says what cleared);
        ``headline`` names the happening when the event name alone does not (recurred, reopened).
        """
        if self.route is None:
            return
        notice = notice_for(db, alarm_id, event, self.tz, now, words, headline)
        channels = self.route(notice)
        if channels:
            enqueue(db, notice, channels, now)
            if self.on_enqueued is not None:
                self.on_enqueued()
