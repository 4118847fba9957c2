"""What the rules in force say about one site: each point's limits, and the site's equipment.

A site page shows a value next to its limit, and an equipment timeline (fan, purifier,
production, treatment) as ON/OFF bands. Neither is stored anywhere but in the rules: a limit is
a threshold rule's level (or a range rule's bound, or a count rule's ``above``) as resolved for
that point with its overrides; an equipment's state is a composite rule's operand, ON while one
of its points reads above ``on_above``. So both are asked of the engine's own rule set and
registry view, with the engine's own target matching: the page can never show a limit the
engine does not judge by, nor an equipment state the engine does not see.

Pure: rule set and catalogue in, values out; safe on a reader thread (nothing is mutated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from forewarn.rules.catalog import DeviceContext, PointContext, RuleCatalog
from forewarn.rules.composite import operand_matches
from forewarn.rules.engine import _device_matches, _targets  # the engine's matching, not a copy
from forewarn.rules.model import Rule, RuleSet

__all__ = ["EQUIPMENT_NAMES", "Limit", "Operand", "OperandPoint", "limit_state", "point_limits", "site_operands"]

#: operand names as people read them (rule files may name others: then the name itself is shown)
EQUIPMENT_NAMES: dict[str, tuple[str, str]] = {
    "production": ("生产设施", "production"), "treatment": ("治污设施", "treatment"),
    "fan": ("风机", "fan"), "purifier": ("净化器", "purifier"),
}


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """One limit a point is judged by: the value is beyond it when ``value op limit`` holds."""

    rule_id: str
    #: threshold (a level), range (a lower or upper bound), count_in_window (a mean's limit)
    kind: str
    #: ``>=``, ``<=`` (threshold), ``>`` (above an upper bound or a count's limit), ``<`` (below a lower bound)
    op: str
    value: float
    #: the alarm level reaching it raises (range and count rules: the rule's level)
    level: int
    name_zh: str
    name_en: str
    #: how long the value must stay beyond it before the rule fires (0: at once)
    for_s: float = 0.0


class Operand(msgspec.Struct, frozen=True, kw_only=True):
    """One piece of equipment of a site as a composite rule defines it."""

    name: str
    name_zh: str
    name_en: str
    #: the rule whose definition is used (the first by id that finds points at the site)
    rule_id: str
    #: the reading kind judged (rtd for meters' power, status for SBx-RS running states)
    kind: str
    on_above: float
    point_ids: list[int]


@dataclass(frozen=True, slots=True)
class OperandPoint:
    """A point of the site as the operand matching needs it."""

    point_id: int
    device_id: int
    code: str
    field: str


def _beyond(value: float, op: str, limit: float) -> bool:
    if op == ">=":
        return value >= limit
    if op == "<=":
        return value <= limit
    if op == ">":
        return value > limit
    return value < limit


def limit_state(value: float | None, flag: str | None, limits: Iterable[Limit]) -> tuple[str, int]:
    """(state, level) of a reading against its limits: ``over_limit`` with the highest level it
    is beyond, ``normal``, ``no_limit`` (nothing judges it), ``no_data``, or ``not_valid`` (a flag
    other than N: HJ 212 does not judge such data against limits)."""
    limits = list(limits)
    if value is None:
        return "no_data", 0
    if not limits:
        return "no_limit", 0
    if flag not in (None, "N"):
        return "not_valid", 0
    reached = [lim.level for lim in limits if _beyond(value, lim.op, lim.value)]
    return ("over_limit", max(reached)) if reached else ("normal", 0)


def _resolved(rules: RuleSet, rule: Rule, device: DeviceContext, point: str) -> Rule:
    return rules.resolve(rule, region=device.region_code, site_type=device.site_type, site=device.site_key,
                         point=point)


def point_limits(rules: RuleSet, catalog: RuleCatalog, device_id: int, code: str, field: str,
                 kind: str = "rtd") -> list[Limit]:
    """The limits the engine judges this point's ``kind`` readings by, lowest first."""
    point = catalog.point(device_id, code, field)
    if point is None:
        return []
    out: list[Limit] = []
    for rule in rules.rules.values():
        if rule.kind not in ("threshold", "range", "count_in_window") or not _targets(rule, point, kind):
            continue
        resolved = _resolved(rules, rule, point.device, point.key)
        if resolved.enabled:
            out.extend(_limits_of(resolved, point))
    return sorted(out, key=lambda lim: (lim.value, lim.level, lim.rule_id))


def _limits_of(rule: Rule, point: PointContext) -> list[Limit]:
    p = rule.params
    for_s = float(p.get("for_s", 0) or 0)
    if rule.kind == "threshold":
        op = ">=" if p.get("op", ">=") == ">=" else "<="
        return [Limit(rule_id=rule.id, kind="threshold", op=op, value=lv.value, level=lv.level, name_zh=lv.name_zh,
                      name_en=lv.name_en, for_s=for_s) for lv in rule.levels]
    if rule.kind == "count_in_window":
        hours = float(p.get("bucket_s", 3600)) / 3600
        return [Limit(rule_id=rule.id, kind="count_in_window", op=">", value=float(p["above"]), level=rule.level,
                      name_zh=f"{hours:g} 小时均值限值", name_en=f"{hours:g}-hour mean limit", for_s=for_s)]
    lower = p.get("lower", point.meta.lower)  # range: the rule's bounds, else the registry's
    upper = p.get("upper", point.meta.upper)
    out = []
    if lower is not None:
        out.append(Limit(rule_id=rule.id, kind="range", op="<", value=float(lower), level=rule.level,
                         name_zh="量程下限", name_en="lower bound", for_s=for_s))
    if upper is not None:
        out.append(Limit(rule_id=rule.id, kind="range", op=">", value=float(upper), level=rule.level,
                         name_zh="量程上限", name_en="upper bound", for_s=for_s))
    return out


def site_operands(rules: RuleSet, catalog: RuleCatalog, points: Iterable[OperandPoint]) -> list[Operand]:
    """The site's equipment: each operand name of the composite rules that apply to its devices,
    with the points it watches. When several rules name the same operand (the power rules all
    name production and treatment), the first rule by id that finds points here defines it."""
    found: dict[str, Operand] = {}
    points = list(points)
    for rule in sorted(rules.rules.values(), key=lambda r: r.id):
        if rule.kind != "composite":
            continue
        for name, ids, kind, on_above in _rule_operands(rules, rule, catalog, points):
            if name not in found and ids:
                zh, en = EQUIPMENT_NAMES.get(name, (name, name))
                found[name] = Operand(name=name, name_zh=zh, name_en=en, rule_id=rule.id, kind=kind,
                                      on_above=on_above, point_ids=ids)
    order = list(EQUIPMENT_NAMES)
    return sorted(found.values(), key=lambda o: (order.index(o.name) if o.name in order else len(order), o.name))


def _rule_operands(rules: RuleSet, rule: Rule, catalog: RuleCatalog, points: list[OperandPoint]
                   ) -> list[tuple[str, list[int], str, float]]:
    by_name: dict[str, tuple[list[int], str, float]] = {}
    for p in points:
        context = catalog.point(p.device_id, p.code, p.field)
        if context is None or not _device_matches(rule, context.device):
            continue
        resolved = _resolved(rules, rule, context.device, "")
        if not resolved.enabled:
            continue
        for name, spec in resolved.params.get("operands", {}).items():
            kind = str(spec.get("kind", "rtd"))
            if operand_matches(spec, context.role, p.code, p.field, kind):
                entry = by_name.setdefault(name, ([], kind, float(spec.get("on_above", 0.5))))
                entry[0].append(p.point_id)
    return [(name, ids, kind, on_above) for name, (ids, kind, on_above) in by_name.items()]
