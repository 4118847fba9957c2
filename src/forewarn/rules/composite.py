"""Rules over several points of one site: ON/OFF operands combined with and, or, not.

Each operand (``production``, ``treatment``, ``fan``, ``purifier`` ...) selects points of the
site (by role, code, sub-field, reading kind) and is ON while any of them reads above its
``on_above`` (a current or power threshold set per rule, per site by override). Modes:

- ``condition`` (default): ``when`` holds for ``for_s`` (production and not treatment);
- ``late_start``: the follower (treatment) came ON more than ``delay_s`` after the leader;
- ``early_stop``: the follower went OFF while the leader was still ON;
- ``idling``: both ON, but the follower's value below ``ratio`` of its baseline (learned while
  both run, or ``baseline`` given) for ``for_s``.

Every verdict names the equipment as the registry knows it ("冶炼炉", "布袋除尘设施") with its
last reading (85.2 kW): an inspector sent on site must know which line and which dust
collector to look at, and how far off they were.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forewarn.rules.model import Rule
from forewarn.rules.point_rules import Verdict, _minutes, _num

__all__ = ["CompositeError", "OperandBinding", "compile_when", "evaluate_composite", "operand_matches"]

State = dict[str, Any]
#: a point's name (zh, en) and unit, by its key ``MN/code-field``
Label = Callable[[str], tuple[str, str, str]]
_NAMES_ZH = {"production": "生产设施", "treatment": "治污设施", "fan": "风机", "purifier": "净化器"}
_NAMES_EN = {"production": "production", "treatment": "treatment", "fan": "fan", "purifier": "purifier"}


class CompositeError(ValueError):
    pass


def compile_when(text: str, names: set[str]) -> Callable[[dict[str, bool]], bool]:
    """A safe evaluator of ``a and not (b or c)`` over operand names."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise CompositeError(f"when {text!r} is not an expression of and/or/not") from exc

    def build(node: ast.AST) -> Callable[[dict[str, bool]], bool]:
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise CompositeError(f"when {text!r} names {node.id!r}, which is not an operand")
            key = node.id
            return lambda env: env.get(key, False)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = build(node.operand)
            return lambda env: not inner(env)
        if isinstance(node, ast.BoolOp):
            parts = [build(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda env: all(p(env) for p in parts)
            return lambda env: any(p(env) for p in parts)
        raise CompositeError(f"when {text!r}: only names, and, or, not and brackets are allowed")

    return build(tree)


def operand_matches(spec: dict[str, Any], role: str, code: str, field: str, kind: str) -> bool:
    def ok(key: str, value: str) -> bool:
        wanted = spec.get(key)
        if wanted is None:
            return True
        return value in (wanted if isinstance(wanted, list) else [wanted])

    return (ok("role", role) and ok("code", code) and ok("field", field)
            and kind == spec.get("kind", "rtd"))


@dataclass(slots=True, frozen=True)
class OperandBinding:
    """One operand of one composite rule at one site, with everything looked up once."""

    when: Callable[[dict[str, bool]], bool]
    operand: str
    on_above: float
    mode: str
    lead: str
    follow: str

    @classmethod
    def of(cls, rule: Rule, operand: str, when: Callable[[dict[str, bool]], bool]) -> OperandBinding:
        p = rule.params
        return cls(when, operand, float(p["operands"][operand].get("on_above", 0.5)),
                   str(p.get("mode", "condition")), str(p.get("lead", "production")),
                   str(p.get("follow", "treatment")))


def _no_label(key: str) -> tuple[str, str, str]:
    _, _, point = key.partition("/")
    return point, point, ""


def evaluate_composite(rule: Rule, s: State, b: OperandBinding, point: str, ts: int,
                       value: float, label: Label = _no_label) -> Verdict | None:
    """Update one operand point's reading and judge the site's condition at ``ts``."""
    verdict = _judge(rule, s, b, point, ts, value)
    if verdict is None or verdict.kind != "fire":
        return verdict
    zh, en = equipment(rule, s, label)
    return Verdict(verdict.kind, verdict.level, f"{verdict.zh}：{zh}" if zh else verdict.zh,
                   f"{verdict.en}: {en}" if en else verdict.en)


def equipment(rule: Rule, s: State, label: Label) -> tuple[str, str]:
    """Each operand's equipment with its last reading and state: running ones of an operand
    that is ON (the lines that produce), all of one that is OFF (the collectors that stand)."""
    ops: dict[str, bool] = s.get("ops", {})
    values: dict[str, float] = s.get("values", {})
    zh_parts, en_parts = [], []
    for operand, of_operand in s.get("points", {}).items():
        running = bool(ops.get(operand))
        shown = [key for key, on in of_operand.items() if on == running] or list(of_operand)
        zh_items, en_items = [], []
        for key in shown:
            name_zh, name_en, unit = label(key)
            reading = f" {_num(values[key])} {unit}".rstrip() if key in values else ""
            zh_items.append(f"{name_zh}{reading}")
            # the registered name is what is written on site; the English one (often the
            # catalogue's, "100001 total active power") follows it
            en_items.append(f"{name_zh}{'' if name_en == name_zh else f' ({name_en})'}{reading}")
        zh_parts.append(f"{_zh(operand)} {'、'.join(zh_items)} {'运行中' if running else '未运行'}")
        en_parts.append(f"{_en(operand)} {', '.join(en_items)} {'running' if running else 'off'}")
    return "；".join(zh_parts), "; ".join(en_parts)


def _judge(rule: Rule, s: State, b: OperandBinding, point: str, ts: int, value: float) -> Verdict | None:
    operand = b.operand
    on = value > b.on_above
    points: dict[str, dict[str, bool]] = s.setdefault("points", {})
    of_operand = points.get(operand)
    if of_operand is None:
        of_operand = points[operand] = {}
    of_operand[point] = on
    s.setdefault("values", {})[point] = value
    ops: dict[str, bool] = s.setdefault("ops", {})
    before = ops.get(operand, False)
    after = on or any(of_operand.values())
    if after != before:
        ops[operand] = after
        if after:
            s.setdefault("on_since", {})[operand] = ts
        else:
            s.setdefault("on_since", {}).pop(operand, None)
    mode = b.mode
    if mode == "condition":
        return _condition(rule, s, b.when(ops), ts)
    was = dict(ops)
    was[operand] = before
    if mode == "late_start":
        return _late_start(rule, s, was, ops, b.lead, b.follow, ts)
    if mode == "early_stop":
        return _early_stop(rule, s, was, ops, b.lead, b.follow)
    if operand == b.follow:
        s["value"] = value
    return _idling(rule, s, ops, b.lead, b.follow, ts)


def _zh(name: str) -> str:
    return _NAMES_ZH.get(name, name)


def _en(name: str) -> str:
    return _NAMES_EN.get(name, name)


def _condition(rule: Rule, s: State, holds: bool, ts: int) -> Verdict | None:
    for_ms = int(float(rule.params.get("for_s", 0)) * 1000)
    if not holds:
        s.pop("since", None)
        if s.get("on"):
            s["on"] = False
            return Verdict("clear", 0, f"{rule.title_zh}：已恢复", f"{rule.title_en}: over")
        return None
    since = s.setdefault("since", ts)
    if ts - since >= for_ms and not s.get("on"):
        s["on"] = True
        lasting_zh, lasting_en = _minutes(ts - since)
        return Verdict("fire", rule.level, f"{rule.title_zh}，持续 {lasting_zh}",
                       f"{rule.title_en} for {lasting_en}")
    return None


def _late_start(rule: Rule, s: State, was: dict[str, bool], now: dict[str, bool], lead: str,
                follow: str, ts: int) -> Verdict | None:
    if now.get(lead) and not was.get(lead, False):
        s["follow_started"] = bool(now.get(follow))  # a new production run begins
    if not now.get(lead):
        s.pop("follow_started", None)
        if s.get("on"):
            s["on"] = False
            return Verdict("clear", 0, f"{_zh(lead)}已停止", f"{_en(lead)} stopped")
        return None
    started = now.get(follow) and not was.get(follow, False)
    first_start = started and not s.get("follow_started", False)
    if started:
        s["follow_started"] = True
    lead_since = s.get("on_since", {}).get(lead)
    # only the treatment's first start in a production run can be late; a restart after a
    # trip is an early stop's business
    if first_start and lead_since is not None and not s.get("on"):
        delay_ms = int(float(rule.params["delay_s"]) * 1000)
        if ts - lead_since > delay_ms:
            s["on"] = True
            late_zh, late_en = _minutes(ts - lead_since)
            allowed_zh, allowed_en = _minutes(delay_ms)
            return Verdict("fire", rule.level,
                           f"{_zh(follow)}在{_zh(lead)}启动 {late_zh} 后才启动（允许 {allowed_zh}）",
                           f"{_en(follow)} started {late_en} after {_en(lead)} (allowed {allowed_en})")
    return None


def _early_stop(rule: Rule, s: State, was: dict[str, bool], now: dict[str, bool], lead: str,
                follow: str) -> Verdict | None:
    stopped = was.get(follow, False) and not now.get(follow)
    if stopped and now.get(lead) and not s.get("on"):
        s["on"] = True
        return Verdict("fire", rule.level, f"{_zh(lead)}仍在运行时{_zh(follow)}停止",
                       f"{_en(follow)} stopped while {_en(lead)} still runs")
    if s.get("on") and (now.get(follow) or not now.get(lead)):
        s["on"] = False
        return Verdict("clear", 0, f"{rule.title_zh}：已恢复", f"{rule.title_en}: over")
    return None


def _idling(rule: Rule, s: State, now: dict[str, bool], lead: str, follow: str,
            ts: int) -> Verdict | None:
    value = s.get("value")
    if value is None:
        return None
    ratio = float(rule.params.get("ratio", 0.3))
    fixed = rule.params.get("baseline")
    baseline = float(fixed) if fixed is not None else s.get("baseline")
    both = bool(now.get(lead) and now.get(follow))
    idle = both and baseline is not None and value < ratio * baseline
    if both and not idle and fixed is None:  # learn the baseline from normal running
        s["baseline"] = value if baseline is None else 0.95 * baseline + 0.05 * value
    verdict = _condition(rule, s, idle, ts)
    if verdict is not None and verdict.kind == "fire" and baseline is not None:
        return Verdict("fire", verdict.level,
                       f"{_zh(follow)}功率 {_num(value)} 低于基线 {_num(baseline)} 的 {ratio:.0%}，"
                       f"而{_zh(lead)}正常运行",
                       f"{_en(follow)} power {_num(value)} below {ratio:.0%} of its baseline "
                       f"{_num(baseline)} while {_en(lead)} runs")
    return verdict
