"""Reading rule files (TOML): the built-in presets and a regulator's own files, checked.

Every mistake is reported with its file and line (``gas.toml:14: rule gas.lel: levels[1]
has no value``), all at once, so a rule file can be fixed in one pass. TOML syntax errors
carry the parser's own line; for the rest the line of the table or key is found in the text.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from forewarn.rules.composite import CompositeError, compile_when
from forewarn.rules.model import KINDS, Override, Rule, RuleSet, Target

__all__ = ["RuleFileError", "load_presets", "load_rule_text", "load_rules", "preset_texts"]

_RULE_KEYS = {"id", "kind", "title_zh", "title_en", "source", "level", "enabled", "target", "params"}
_OVERRIDE_KEYS = {"rule", "region", "site_type", "site", "point", "params"}
_TARGET_KEYS = {f.name for f in fields(Target)}
_ID = re.compile(r"^[a-z0-9_.\-]+$")


class RuleFileError(Exception):
    """Rule files with mistakes; ``problems`` lists each as ``file:line: what``."""

    def __init__(self, problems: list[str]) -> None:
        text = problems[0] if len(problems) == 1 else (
            f"{len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
        )
        super().__init__(text)
        self.problems = problems


@dataclass(slots=True)
class _Lines:
    """Finds where tables and keys are in a TOML text, for messages."""

    name: str
    lines: list[str]
    headers: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, text: str) -> _Lines:
        found = cls(name, text.splitlines())
        for number, line in enumerate(found.lines, start=1):
            stripped = line.split("#", 1)[0].strip()
            if stripped.startswith("[[") and stripped.endswith("]]"):
                found.headers.setdefault(stripped[2:-2].strip(), []).append(number)
        return found

    def table(self, name: str, index: int) -> int:
        numbers = self.headers.get(name, [])
        return numbers[index] if index < len(numbers) else 0

    def key(self, start: int, key: str) -> int:
        """The line of ``key =`` at or after ``start`` (before the next [[table]])."""
        pattern = re.compile(rf"^\s*({re.escape(key)}\s*=|\[\s*rule\.(params\.)?{re.escape(key)}\s*\])")
        for number in range(max(start, 1), len(self.lines) + 1):
            text = self.lines[number - 1].strip()
            if number > start and text.startswith("[["):
                break
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def at(self, line: int) -> str:
        return f"{self.name}:{line}"


def preset_texts() -> dict[str, str]:
    """The built-in preset files (gas, dust, fume, power, data quality) by file name."""
    folder = resources.files("forewarn.rules").joinpath("presets")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    }


def load_presets() -> RuleSet:
    return _load([(f"presets/{name}", text) for name, text in preset_texts().items()])


def load_rules(paths: list[Path], *, with_presets: bool = True) -> RuleSet:
    """Presets (unless told not to), then each file in order; a later rule replaces an
    earlier one with the same id, overrides accumulate."""
    sources: list[tuple[str, str]] = []
    if with_presets:
        sources += [(f"presets/{name}", text) for name, text in preset_texts().items()]
    problems: list[str] = []
    for path in paths:
        try:
            sources.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read ({exc})")
    if problems:
        raise RuleFileError(problems)
    return _load(sources)


def load_rule_text(name: str, text: str) -> RuleSet:
    return _load([(name, text)])


def _load(sources: list[tuple[str, str]]) -> RuleSet:
    ruleset = RuleSet()
    problems: list[str] = []
    for name, text in sources:
        _parse_one(name, text, ruleset, problems)
    for o in ruleset.overrides:
        rule = ruleset.rules.get(o.rule)
        if rule is None:
            problems.append(f"{o.source}:{o.line}: override: rule {o.rule!r} is not defined")
            continue
        merged = rule.with_params(o.params)
        changes = {k: v for k, v in o.params.items() if k not in ("enabled", "level")}
        where = f"{o.source}:{o.line}: override of {o.rule}"

        def bad(key: str, message: str, where: str = where) -> None:
            problems.append(f"{where}: {message}")

        check_params(rule.kind, {**rule.params, **changes}, bad)
        if not 1 <= merged.level <= 4:
            problems.append(f"{o.source}:{o.line}: override of {o.rule}: level must be 1 to 4")
    if problems:
        raise RuleFileError(problems)
    return ruleset


def _parse_one(name: str, text: str, ruleset: RuleSet, problems: list[str]) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{name}: {exc}")
        return
    lines = _Lines.of(name, text)
    unknown = set(data) - {"rule", "override"}
    if unknown:
        problems.append(
            f"{name}: unknown top-level key(s) {', '.join(sorted(unknown))} (use [[rule]] and [[override]])"
        )
    for index, spec in enumerate(data.get("rule", [])):
        rule = _rule(spec, lines, lines.table("rule", index), problems)
        if rule is not None:
            ruleset.rules[rule.id] = rule
    for index, spec in enumerate(data.get("override", [])):
        override = _override(spec, lines, lines.table("override", index), problems)
        if override is not None:
            ruleset.overrides.append(override)


def _rule(spec: dict[str, Any], lines: _Lines, line: int, problems: list[str]) -> Rule | None:
    before = len(problems)
    rid = str(spec.get("id", ""))
    where = f"{lines.at(line)}: rule {rid or '(no id)'}"

    def bad(key: str, message: str) -> None:
        problems.append(f"{lines.at(lines.key(line, key))}: rule {rid or '(no id)'}: {message}")

    for key in set(spec) - _RULE_KEYS:
        bad(key, f"unknown key {key!r} (known: {', '.join(sorted(_RULE_KEYS))})")
    if not _ID.match(rid):
        problems.append(f"{where}: id must be lowercase letters, digits, '.', '_' or '-'")
    kind = spec.get("kind")
    if kind not in KINDS:
        bad("kind", f"kind {kind!r} is unknown (one of: {', '.join(KINDS)})")
    for key in ("title_zh", "title_en", "source"):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            bad(key, f"{key} is required (every default says where its numbers come from)")
    level = spec.get("level", 3)
    if not isinstance(level, int) or not 1 <= level <= 4:
        bad("level", "level must be 1 to 4")
    params = spec.get("params", {})
    if not isinstance(params, dict):
        bad("params", "params must be a table")
        params = {}
    if isinstance(kind, str) and kind in KINDS:
        check_params(kind, params, bad)
    target_spec = spec.get("target", {})
    target = _target(target_spec, lambda m: bad("target", m))
    if len(problems) > before:
        return None
    return Rule(rid, str(kind), spec["title_zh"], spec["title_en"], spec["source"], 1, target,
                int(level), params, bool(spec.get("enabled", True)), line)


def _target(spec: object, bad: Any) -> Target:
    if not isinstance(spec, dict):
        bad("target must be a table")
        return Target()
    values: dict[str, Any] = {}
    for key, value in spec.items():
        if key not in _TARGET_KEYS:
            bad(f"unknown target key {key!r} (known: {', '.join(sorted(_TARGET_KEYS))})")
        elif key == "kind":
            if value not in ("rtd", "minute", "hour", "day", "status", "runtime"):
                bad(f"target.kind {value!r} is not a reading kind")
            values[key] = value
        else:
            items = value if isinstance(value, list) else [value]
            values[key] = tuple(str(v) for v in items)
    return Target(**values)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: The parameters each rule kind understands (an unknown one is a typo until proven otherwise).
PARAMS: dict[str, frozenset[str]] = {
    "threshold": frozenset({"op", "for_s", "levels"}),
    "count_in_window": frozenset({"above", "count", "bucket_s", "window_s", "calendar_day"}),
    "rate": frozenset({"max_change", "per_s"}),
    "flatline": frozenset({"for_s"}),
    "zero": frozenset({"for_s"}),
    "range": frozenset({"lower", "upper"}),
    "flag": frozenset({"flags"}),
    "nodata": frozenset({"after_intervals", "storm_devices", "storm_window_s"}),
    "downtime": frozenset({"after_s"}),
    "composite": frozenset({"when", "operands", "for_s", "mode", "delay_s", "ratio", "baseline", "lead", "follow",
                            "incident"}),
    "emergency": frozenset({"on_above"}),
}
_OPERAND_KEYS = frozenset({"role", "code", "field", "kind", "on_above"})
_MODES = ("condition", "late_start", "early_stop", "idling")

Bad = Callable[[str, str], None]  # (param key, message)


def check_params(kind: str, params: dict[str, Any], bad: Bad) -> None:
    """Every mistake in a rule kind's parameters, reported against the key it concerns."""
    for key in params:
        if key not in PARAMS[kind]:
            bad(key, f"params.{key} is not a parameter of a {kind} rule (known: {', '.join(sorted(PARAMS[kind]))})")
    for required in KINDS[kind]:
        if required not in params:
            bad("params", f"a {kind} rule needs params.{required}")
    for key in ("for_s", "window_s", "per_s", "bucket_s", "after_intervals", "max_change", "above", "count",
                "delay_s", "ratio", "baseline", "on_above", "lower", "upper", "after_s", "storm_devices",
                "storm_window_s"):
        if key in params and (not _number(params[key]) or (params[key] < 0 and key not in ("lower", "upper"))):
            bad(key, f"params.{key} must be a number{'' if key in ('lower', 'upper') else ' >= 0'}")
    if kind == "threshold" and "levels" in params:
        _check_levels(params, bad)
    if kind == "flag" and "flags" in params:
        flags = params["flags"]
        if not isinstance(flags, list) or not flags or not all(isinstance(f, str) and len(f) == 1 for f in flags):
            bad("flags", "params.flags must be a list of one-letter data flags, e.g. [\"D\"]")
    if "incident" in params and (not isinstance(params["incident"], str) or not _ID.match(params["incident"])):
        bad("incident", "params.incident must name the incident in lowercase letters, digits, '.', '_' or '-'")
    if kind == "composite":
        _check_composite(params, bad)


def _check_levels(params: dict[str, Any], bad: Bad) -> None:
    levels = params["levels"]
    if not isinstance(levels, list) or not levels:
        bad("levels", "params.levels must be a list of {level, value, clear}")
        return
    op = params.get("op", ">=")
    if op not in (">=", "<="):
        bad("op", "params.op must be '>=' or '<='")
    for i, lv in enumerate(levels):
        if not isinstance(lv, dict) or not _number(lv.get("value")) or not isinstance(lv.get("level"), int):
            bad("levels", f"levels[{i}] needs an integer level and a number value")
            continue
        clear = lv.get("clear", lv["value"])
        if not _number(clear) or (op == ">=" and clear > lv["value"]) or (op == "<=" and clear < lv["value"]):
            bad("levels", f"levels[{i}].clear must be a number on the safe side of value (hysteresis)")


def _check_composite(params: dict[str, Any], bad: Bad) -> None:
    operands = params.get("operands")
    if not isinstance(operands, dict) or not operands:
        bad("operands", "params.operands must be a table of operands, e.g. production = { role = [\"production\"] }")
        return
    for name, spec in operands.items():
        if not isinstance(spec, dict):
            bad("operands", f"operand {name} must be a table")
            continue
        for key in set(spec) - _OPERAND_KEYS:
            bad("operands", f"operand {name}: unknown key {key!r} (known: {', '.join(sorted(_OPERAND_KEYS))})")
        if "on_above" in spec and not _number(spec["on_above"]):
            bad("operands", f"operand {name}: on_above must be a number")
    when = params.get("when")
    if isinstance(when, str):
        try:
            compile_when(when, set(operands))
        except CompositeError as exc:
            bad("when", str(exc))
    mode = params.get("mode", "condition")
    if mode not in _MODES:
        bad("mode", f"params.mode must be one of {', '.join(_MODES)}")
    if mode == "late_start" and "delay_s" not in params:
        bad("mode", "a late_start rule needs params.delay_s")
    for role in ("lead", "follow"):
        if role in params and params[role] not in operands:
            bad(role, f"params.{role} must name an operand")


def _override(spec: dict[str, Any], lines: _Lines, line: int, problems: list[str]) -> Override | None:
    before = len(problems)
    for key in set(spec) - _OVERRIDE_KEYS:
        problems.append(f"{lines.at(lines.key(line, key))}: override: unknown key {key!r}")
    if not isinstance(spec.get("rule"), str):
        problems.append(f"{lines.at(line)}: override needs rule = \"<rule id>\"")
    scopes = [k for k in ("region", "site_type", "site", "point") if spec.get(k)]
    if len(scopes) != 1:
        problems.append(f"{lines.at(line)}: override needs exactly one of region, site_type, site, point")
    params = spec.get("params", {})
    if not isinstance(params, dict) or not params:
        problems.append(f"{lines.at(lines.key(line, 'params'))}: override needs a params table")
    if len(problems) > before:
        return None
    return Override(spec["rule"], str(spec.get("region", "")), str(spec.get("site_type", "")),
                    str(spec.get("site", "")), str(spec.get("point", "")), params, line, lines.name)
