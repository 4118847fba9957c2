"""Heavy-pollution emergency calendars, checked against production electricity.

During an emergency period (level, region, start, end) each listed enterprise has measures:
a production line that must stop, or production that must drop by a share of its baseline.
The ``emergency`` rule judges each production point's power against the measure in force.

The calendar is a TOML file (``calendar_file``, default ``DATA/calendar.toml``)::

    [[period]]
    level = "orange"            # yellow | orange | red
    region = "140200"           # division code prefix the period covers
    start = 2026-11-20T00:00:00+08:00
    end = 2026-11-23T00:00:00+08:00
    [[period.measure]]
    enterprise = "大同云岚热电有限公司"
    action = "reduce"           # stop | reduce
    percent = 30                # for reduce: by how much
    baseline_kw = 500           # for reduce: the line's normal power
    code = "100001"             # optional: only this meter (line)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from forewarn.rules.model import Rule
from forewarn.rules.point_rules import Verdict, _num

__all__ = ["Calendar", "CalendarError", "Measure", "Period", "emergency", "load_calendar"]

_LEVELS = {"yellow": "黄色", "orange": "橙色", "red": "红色"}


class CalendarError(Exception):
    pass


@dataclass(slots=True, frozen=True)
class Measure:
    enterprise: str
    action: str
    percent: float = 0.0
    baseline_kw: float = 0.0
    code: str = ""


@dataclass(slots=True, frozen=True)
class Period:
    level: str
    region: str
    start_ms: int
    end_ms: int
    measures: tuple[Measure, ...]


@dataclass(slots=True, frozen=True)
class Calendar:
    periods: tuple[Period, ...] = ()

    def measure(self, ts: int, region: str, enterprise: str, code: str) -> tuple[Period, Measure] | None:
        for period in self.periods:
            if period.start_ms <= ts < period.end_ms and region.startswith(period.region):
                for m in period.measures:
                    if m.enterprise == enterprise and (not m.code or m.code == code):
                        return period, m
        return None


def load_calendar(path: Path) -> Calendar:
    """The calendar file, or an empty calendar when there is none."""
    if not path.exists():
        return Calendar()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise CalendarError(f"{path}: {exc}") from exc
    periods = []
    for i, spec in enumerate(data.get("period", []), start=1):
        periods.append(_period(path, i, spec))
    return Calendar(tuple(periods))


def _period(path: Path, i: int, spec: dict[str, Any]) -> Period:
    where = f"{path}: period {i}"
    if spec.get("level") not in _LEVELS:
        raise CalendarError(f"{where}: level must be one of {', '.join(_LEVELS)}")
    start, end = spec.get("start"), spec.get("end")
    if not isinstance(start, datetime) or not isinstance(end, datetime) or start.tzinfo is None:
        raise CalendarError(f"{where}: start and end must be times with an offset (2026-11-20T00:00:00+08:00)")
    if end <= start:
        raise CalendarError(f"{where}: end must be after start")
    measures = []
    for j, m in enumerate(spec.get("measure", []), start=1):
        if not m.get("enterprise") or m.get("action") not in ("stop", "reduce"):
            raise CalendarError(f"{where}, measure {j}: needs enterprise and action = stop | reduce")
        percent, baseline = float(m.get("percent", 0)), float(m.get("baseline_kw", 0))
        if m["action"] == "reduce" and not (0 < percent < 100 and baseline > 0):
            raise CalendarError(f"{where}, measure {j}: reduce needs percent (0-100) and baseline_kw")
        measures.append(Measure(str(m["enterprise"]), m["action"], float(m.get("percent", 0)),
                                float(m.get("baseline_kw", 0)), str(m.get("code", ""))))
    return Period(spec["level"], str(spec.get("region", "")), int(start.timestamp() * 1000),
                  int(end.timestamp() * 1000), tuple(measures))


def emergency(rule: Rule, s: dict[str, Any], ts: int, value: float, flag: str, name: str, unit: str,
              found: tuple[Period, Measure] | None) -> Verdict | None:
    """Judge one production reading against the measure in force at ``ts`` (if any)."""
    if found is None or flag != "N":
        if s.get("on") and found is None:
            s["on"] = False
            return Verdict("clear", 0, "应急减排措施期结束或已落实", "emergency measure period over or carried out")
        return None
    period, measure = found
    if measure.action == "stop":
        allowed = float(rule.params.get("on_above", 5.0))
        demand_zh, demand_en = "要求停产", "ordered to stop"
    else:
        allowed = measure.baseline_kw * (1 - measure.percent / 100)
        demand_zh = f"要求减产 {measure.percent:g}%（不超过 {_num(allowed)} {unit}）"
        demand_en = f"ordered to cut {measure.percent:g}% (at most {_num(allowed)} {unit})"
    violating = value > allowed
    if violating and not s.get("on"):
        s["on"] = True
        colour = _LEVELS[period.level]
        return Verdict("fire", rule.level,
                       f"重污染{colour}预警期间{demand_zh}，{name} {_num(value)} {unit}",
                       f"heavy-pollution {period.level} alert: {demand_en}, {name} at {_num(value)} {unit}")
    if not violating and s.get("on"):
        s["on"] = False
        return Verdict("clear", 0, f"{name}已落实应急措施（{_num(value)} {unit}）",
                       f"{name} now complies ({_num(value)} {unit})")
    return None
