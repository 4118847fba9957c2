"""Storms: many devices silent at once are one group, heard once per region, handled together.

After the platform itself was down an hour, every device it supervises is silent when it
comes back: 72 alarms, 72 notices, and 15 minutes later 72 escalations, although there is
one cause. A network outage at a district does the same on a smaller scale. So silence
alarms that share a cause are put in one group (``alarm_groups``; each alarm keeps its own
subject, scope and clearing, and carries ``group_id``), and the group is announced once per
region instead of once per device:

- ``restart:<ms>``: devices silent since before the platform started at ``<ms>``. The cause is
  known (the platform's downtime, whose own alarm is the group's ``cause_alarm_id``), so they
  always group, however few;
- ``offline``: devices going silent while the platform runs group when at least
  ``min_members`` of them fire within ``window_ms`` (alarms of the rule fired shortly before,
  still alone, join); the group takes joiners while its last member is younger than
  ``window_ms``.

Within a group only the first alarm of each region is announced, with the region's count; the
others are recorded, not announced. The timers ask :func:`first_in_region` so that escalation
and overdue are announced once per group and region too. Handling them in one step is the
bulk endpoint's business (``POST /api/v1/alarms/bulk``), selecting by ``group_id``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from forewarn.rules.events import RuleEvent

__all__ = ["Announce", "first_in_region", "group_words", "settle"]

#: announce alarm ``id`` as fired, with these words (None: its own explanation)
Announce = Callable[[int, "tuple[str, str] | None"], None]


def group_words(group_id: int, where: str, count: int, zh: str, en: str) -> tuple[str, str]:
    return (f"告警组 #{group_id}：{where}共 {count} 台设备同时无数据，可一并处置。其一：{zh}",
            f"alarm group #{group_id}: {count} devices{' in ' + where if where else ''} silent at once, "
            f"to be handled together. One of them: {en}")


def _open_group(db: sqlite3.Connection, rule_id: str, key: str, now: int, window_ms: int) -> int | None:
    if key.startswith("restart:"):
        row = db.execute("SELECT id FROM alarm_groups WHERE rule_id = ? AND key = ? ORDER BY id DESC LIMIT 1",
                         (rule_id, key)).fetchone()
    else:
        row = db.execute("SELECT id FROM alarm_groups WHERE rule_id = ? AND key = ? AND last_ms >= ? "
                         "ORDER BY id DESC LIMIT 1", (rule_id, key, now - window_ms)).fetchone()
    return None if row is None else int(row[0])


def _cause(db: sqlite3.Connection, key: str) -> int | None:
    """The platform's downtime alarm of the start named by a ``restart:<ms>`` key."""
    if not key.startswith("restart:"):
        return None
    row = db.execute("SELECT id FROM alarms WHERE subject = 'platform' AND first_ts = ? ORDER BY id DESC LIMIT 1",
                     (int(key.partition(":")[2]),)).fetchone()
    return None if row is None else int(row[0])


def settle(db: sqlite3.Connection, fired: list[tuple[int, RuleEvent, bool]], now: int, announce: Announce) -> None:
    """Group the silence alarms a batch fired and announce them: (alarm id, its event, whether
    it may be announced at all: live and not silenced)."""
    by_key: dict[tuple[str, str], list[tuple[int, RuleEvent, bool]]] = {}
    for item in fired:
        group = item[1].group
        assert group is not None
        by_key.setdefault((item[1].rule_id, group.key), []).append(item)
    for (rule_id, key), members in by_key.items():
        grouping = members[0][1].group
        assert grouping is not None
        ids = [m[0] for m in members]
        group_id = _open_group(db, rule_id, key, now, grouping.window_ms)
        if group_id is None:
            earlier: list[int] = []
            if not key.startswith("restart:"):
                marks = ",".join("?" * len(ids))
                earlier = [int(r[0]) for r in db.execute(
                    f"SELECT id FROM alarms WHERE rule_id = ? AND group_id IS NULL AND state != 'closed' "
                    f"AND condition = 'active' AND created_ms >= ? AND id NOT IN ({marks})",
                    (rule_id, now - grouping.window_ms, *ids))]
                if len(ids) + len(earlier) < grouping.min_members:
                    for alarm_id, _, may in members:
                        if may:
                            announce(alarm_id, None)
                    continue
            cur = db.execute("INSERT INTO alarm_groups (key, rule_id, cause_alarm_id, first_ms, last_ms) "
                             "VALUES (?, ?, ?, ?, ?)", (key, rule_id, _cause(db, key), now, now))
            group_id = int(cur.lastrowid or 0)
            db.executemany("UPDATE alarms SET group_id = ? WHERE id = ?", [(group_id, i) for i in earlier])
        db.executemany("UPDATE alarms SET group_id = ? WHERE id = ?", [(group_id, i) for i in ids])
        db.execute("UPDATE alarm_groups SET last_ms = ? WHERE id = ?", (now, group_id))
        regions: dict[str, list[tuple[int, RuleEvent, bool]]] = {}
        for m in members:
            regions.setdefault(m[1].info.region_code, []).append(m)
        marks = ",".join("?" * len(ids))
        for region, mine in regions.items():
            heard = db.execute(f"SELECT COUNT(*) FROM alarms WHERE group_id = ? AND region_code = ? "
                               f"AND id NOT IN ({marks})", (group_id, region, *ids)).fetchone()[0]
            if heard:
                continue  # this region heard of the storm already: the newcomers are recorded
            first = next((m for m in mine if m[2]), None)
            if first is not None:
                e = first[1]
                announce(first[0], group_words(group_id, e.info.region_name, len(mine), e.explanation_zh,
                                               e.explanation_en))


def first_in_region(db: sqlite3.Connection, alarm_id: int, flag: str) -> tuple[bool, int | None, int]:
    """Whether a timer's step on this alarm (``flag``: escalated or overdue, already set on it)
    is to be announced: always for an alarm alone; for a grouped one only the first of its group
    and region. Also its group and how many of the group's open alarms share its region."""
    assert flag in ("escalated", "overdue")
    row = db.execute("SELECT group_id, region_code FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
    if row is None or row[0] is None:
        return True, None, 1
    group_id, region = int(row[0]), row[1]
    flagged, open_ = db.execute(
        f"SELECT COALESCE(SUM({flag}), 0), COALESCE(SUM(state != 'closed'), 0) FROM alarms "
        "WHERE group_id = ? AND region_code = ?", (group_id, region)).fetchone()
    return int(flagged) == 1, group_id, int(open_)
