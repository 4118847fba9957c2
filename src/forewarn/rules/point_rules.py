"""Rules about one point's own readings: threshold, count in window, rate, flat line, zero,
range, data flag. Pure: (rule, state, reading) in, an optional verdict out.

State is a small JSON-able dict per (rule, point), owned by the engine and checkpointed with
the readings that changed it. A verdict says the condition began or changed level (``fire``)
or ended (``clear``), with the words that explain it.

HJ 212 says only data flagged N is valid for exceedance judgement: value rules skip other
flags, so maintenance (M) and calibration (C) suppress them while they last. The flag rule
is the one that looks at flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forewarn.rules.model import Rule

__all__ = ["POINT_RULES", "PointMeta", "Verdict"]


@dataclass(slots=True, frozen=True)
class PointMeta:
    """What a rule needs to know of a point besides its readings."""

    name_zh: str
    name_en: str
    unit: str
    lower: float | None = None
    upper: float | None = None


@dataclass(slots=True, frozen=True)
class Verdict:
    kind: str  # fire | clear
    level: int
    zh: str
    en: str


State = dict[str, Any]
Evaluate = Callable[[Rule, State, int, float, str, PointMeta], "Verdict | None"]


def _num(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"


def _minutes(ms: int) -> tuple[str, str]:
    minutes = ms / 60000
    if minutes < 1:
        seconds = round(ms / 1000)
        return f"{seconds} 秒", f"{seconds} s"
    shown = f"{minutes:.0f}" if minutes >= 10 or minutes == int(minutes) else f"{minutes:.1f}"
    return f"{shown} 分钟", f"{shown} min"


def _clear(rule: Rule, p: PointMeta, value: float) -> Verdict:
    return Verdict("clear", 0, f"{p.name_zh}恢复正常（{_num(value)} {p.unit}）",
                   f"{p.name_en} back to normal ({_num(value)} {p.unit})")


def threshold(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    """Levels with a ``for`` duration each, cleared with hysteresis."""
    if flag != "N":
        return None
    above = rule.params.get("op", ">=") == ">="
    for_ms = int(float(rule.params.get("for_s", 0)) * 1000)
    since: dict[str, int] = s.setdefault("since", {})
    active = int(s.get("lv", 0))
    levels = rule.levels
    for lv in levels:
        beyond = value >= lv.value if above else value <= lv.value
        key = str(lv.level)
        if beyond:
            since.setdefault(key, ts)
        else:
            since.pop(key, None)
    reached = [lv for lv in levels if str(lv.level) in since and ts - since[str(lv.level)] >= for_ms]
    if reached:
        top = reached[-1]
        if top.level > active:
            s["lv"] = top.level
            sign = "≥" if above else "≤"
            lasting_zh, lasting_en = _minutes(ts - since[str(top.level)])
            zh = f"{p.name_zh} {_num(value)} {p.unit} {sign} {top.name_zh} {_num(top.value)} {p.unit}"
            en = f"{p.name_en} {_num(value)} {p.unit} {sign} {top.name_en} {_num(top.value)} {p.unit}"
            if for_ms:
                zh += f"，持续 {lasting_zh}"
                en += f" for {lasting_en}"
            return Verdict("fire", top.level, zh, en)
    if active:
        holding = [lv for lv in levels if lv.level <= active
                   and (value >= lv.clear if above else value <= lv.clear)]
        if not holding:
            s["lv"] = 0
            return _clear(rule, p, value)
        s["lv"] = max(lv.level for lv in holding)
    return None


def count_in_window(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    """Bucket means (e.g. hourly) above a limit, counted in a rolling window (e.g. a day)."""
    bucket_ms = int(float(rule.params.get("bucket_s", 3600)) * 1000)
    window_ms = int(float(rule.params["window_s"]) * 1000)
    above, allowed = float(rule.params["above"]), int(rule.params["count"])
    offset = int(rule.params.get("utc_offset_ms", 0))  # buckets and days in local time
    bucket = ts - (ts + offset) % bucket_ms
    hits: list[int] = s.setdefault("hits", [])
    if s.get("b") is not None and bucket > s["b"]:
        if s.get("n", 0) and s["sum"] / s["n"] > above:
            hits.append(s["b"])
        s["sum"], s["n"] = 0.0, 0
    if s.get("b") is None or bucket > s["b"]:
        s["b"] = bucket
    if flag == "N" and bucket == s["b"]:
        s["sum"] = s.get("sum", 0.0) + value
        s["n"] = s.get("n", 0) + 1
    if window_ms == 86_400_000 and rule.params.get("calendar_day", True):
        day = (ts + offset) // 86_400_000  # "a day" is the local calendar day
        hits[:] = [h for h in hits if (h + offset) // 86_400_000 == day]
    else:
        hits[:] = [h for h in hits if h > ts - window_ms]
    hours = bucket_ms / 3600000
    unit_zh = "小时" if hours == 1 else f"{hours:g} 小时时段"
    unit_en = "hourly" if hours == 1 else f"{hours:g}-hour"
    if len(hits) > allowed and not s.get("on"):
        s["on"] = True
        window_h = window_ms / 3600000
        return Verdict(
            "fire", rule.level,
            f"{p.name_zh}{unit_zh}均值超过 {_num(above)} {p.unit} 已 {len(hits)} 次"
            f"（{window_h:g} 小时内，允许 {allowed} 次）",
            f"{p.name_en} {unit_en} mean above {_num(above)} {p.unit} {len(hits)} times "
            f"in {window_h:g} h (allowed {allowed})",
        )
    if len(hits) <= allowed and s.get("on"):
        s["on"] = False
        return Verdict("clear", 0, f"{p.name_zh}超标次数回到允许范围内",
                       f"{p.name_en} exceedances back within the allowance")
    return None


def rate(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    """A change faster than ``max_change`` per ``per_s`` between two valid readings."""
    if flag != "N":
        return None
    prev_ts, prev = s.get("ts"), s.get("v")
    s["ts"], s["v"] = ts, value
    if prev_ts is None or prev is None or ts <= prev_ts:
        return None
    per_ms = float(rule.params["per_s"]) * 1000
    change = abs(value - prev) * per_ms / max(ts - prev_ts, per_ms)
    if change > float(rule.params["max_change"]):
        if s.get("on"):
            return None
        s["on"] = True
        return Verdict("fire", rule.level,
                       f"{p.name_zh}由 {_num(prev)} 突变为 {_num(value)} {p.unit}",
                       f"{p.name_en} jumped from {_num(prev)} to {_num(value)} {p.unit}")
    if s.get("on"):
        s["on"] = False
        return _clear(rule, p, value)
    return None


def _run(rule: Rule, s: State, ts: int, value: float, since: int | None, p: PointMeta,
         zh: str, en: str) -> Verdict | None:
    """Judge a run of stuck readings that began at ``since`` (None: not stuck now)."""
    if since is None:
        if s.get("on"):
            s["on"] = False
            return _clear(rule, p, value)
        return None
    if ts - since >= int(float(rule.params["for_s"]) * 1000) and not s.get("on"):
        s["on"] = True
        lasting_zh, lasting_en = _minutes(ts - since)
        return Verdict("fire", rule.level, zh.format(v=_num(value), u=p.unit, d=lasting_zh),
                       en.format(v=_num(value), u=p.unit, d=lasting_en))
    return None


def flatline(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    """The same value since ``since``: the run starts at the first reading of that value."""
    if flag != "N":
        return None
    if s.get("v") != value:
        s["v"], s["since"] = value, ts
        return _run(rule, s, ts, value, None, p, "", "")
    return _run(rule, s, ts, value, s["since"], p,
                f"{p.name_zh}恒为 {{v}} {{u}}，已 {{d}}", f"{p.name_en} constant at {{v}} {{u}} for {{d}}")


def zero(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    if flag != "N":
        return None
    if value != 0:
        if s.get("since") is not None:
            s["since"] = None
        return _run(rule, s, ts, value, None, p, "", "")
    if s.get("since") is None:
        s["since"] = ts
    return _run(rule, s, ts, value, s["since"], p,
                f"{p.name_zh}持续为零，已 {{d}}", f"{p.name_en} stuck at zero for {{d}}")


def in_range(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    """Outside the instrument's range: the point's lower/upper, or the rule's own."""
    lower = rule.params.get("lower", p.lower)
    upper = rule.params.get("upper", p.upper)
    if lower is None and upper is None:
        return None
    outside = (lower is not None and value < lower) or (upper is not None and value > upper)
    if outside and not s.get("on"):
        s["on"] = True
        shown = f"[{'' if lower is None else _num(lower)}, {'' if upper is None else _num(upper)}]"
        return Verdict("fire", rule.level,
                       f"{p.name_zh} {_num(value)} {p.unit} 超出仪器量程 {shown}",
                       f"{p.name_en} {_num(value)} {p.unit} outside the instrument's range {shown}")
    if not outside and s.get("on"):
        s["on"] = False
        return _clear(rule, p, value)
    return None


_FLAG_ZH = {"D": "故障", "F": "停运", "M": "维护", "C": "校准", "T": "超量程", "B": "通讯异常", "P": "电源故障"}


def flag_rule(rule: Rule, s: State, ts: int, value: float, flag: str, p: PointMeta) -> Verdict | None:
    watched = rule.params["flags"]
    if flag in watched and not s.get("on"):
        s["on"] = True
        return Verdict("fire", rule.level,
                       f"{p.name_zh}数据标记为 {flag}（{_FLAG_ZH.get(flag, flag)}）",
                       f"{p.name_en} data flagged {flag}")
    if flag not in watched and s.get("on"):
        s["on"] = False
        return Verdict("clear", 0, f"{p.name_zh}数据标记恢复为 {flag}", f"{p.name_en} flag back to {flag}")
    return None


#: Evaluator of each point rule kind.
POINT_RULES: dict[str, Evaluate] = {
    "threshold": threshold,
    "count_in_window": count_in_window,
    "rate": rate,
    "flatline": flatline,
    "zero": zero,
    "range": in_range,
    "flag": flag_rule,
}
