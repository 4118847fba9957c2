"""Reading rule files (TOML): the built-in presets and a regulator's own files, checked.

Every mistake is reported with its file and line (``gas.toml:14: rule gas.lel: levels[1]
has no value``), all at once, so a rule file can be fixed in one pass. TOML syntax errors
carry the parser's own line; for the rest the line of the table or key is found in the text.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

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
            stripped = line.strip()
            if stripped.startswith("[[") and stripped.endswith("]]"):
                found.headers.setdefault(stripped[2:-2].strip(), []).append(number)
        return found

    def table(self, name: str, index: int) -> int:
        numbers = self.headers.get(name, [])
        return numbers[index] if index < len(numbers) else 0

    def key(self, start: int, key: str) -> int:
        """The line of ``key =`` at or after ``start`` (before the next [[table]])."""
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
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
        if o.rule not in ruleset.rules:
            problems.append(f"override at line {o.line}: rule {o.rule!r} is not defined")
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
        for required in KINDS[kind]:
            if required not in params:
                bad("params", f"a {kind} rule needs params.{required}")
        _check_params(kind, params, lambda m: bad("params", m))
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


def _check_params(kind: str, params: dict[str, Any], bad: Any) -> None:
    for key in ("for_s", "window_s", "per_s", "after_intervals", "max_change", "above", "count"):
        if key in params and (not _number(params[key]) or params[key] < 0):
            bad(f"params.{key} must be a number >= 0")
    if kind == "threshold":
        levels = params.get("levels")
        if not isinstance(levels, list) or not levels:
            bad("params.levels must be a list of {level, value, clear}")
            return
        op = params.get("op", ">=")
        if op not in (">=", "<="):
            bad("params.op must be '>=' or '<='")
        for i, lv in enumerate(levels):
            if not isinstance(lv, dict) or not _number(lv.get("value")) or not isinstance(lv.get("level"), int):
                bad(f"levels[{i}] needs an integer level and a number value")
                continue
            clear = lv.get("clear", lv["value"])
            if not _number(clear) or (op == ">=" and clear > lv["value"]) or (op == "<=" and clear < lv["value"]):
                bad(f"levels[{i}].clear must be a number on the safe side of value (hysteresis)")
    if kind == "flag":
        flags = params.get("flags")
        if not isinstance(flags, list) or not all(isinstance(f, str) and len(f) == 1 for f in flags):
            bad("params.flags must be a list of one-letter data flags, e.g. [\"D\"]")
    if kind == "composite":
        when = params.get("when")
        if not isinstance(when, str) or not when.strip():
            bad("params.when must be an expression such as 'production and not treatment'")


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
                    str(spec.get("site", "")), str(spec.get("point", "")), params, line)
