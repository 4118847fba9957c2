"""Rules as data: what a rule says, where it applies, and how overrides refine it.

A rule file holds ``[[rule]]`` tables (one rule each, with the source of its numbers) and
``[[override]]`` tables that change a rule's parameters for a region, a site type, a site or
one point. The most specific override wins: point, then site, then site type, then the
longest matching region prefix, then the rule's own defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Level", "Override", "Rule", "RuleSet", "Target"]

_ZH_ORDINAL = {1: "一", 2: "二", 3: "三", 4: "四"}

#: Rule kinds the engine knows, each with the parameters it requires.
KINDS: dict[str, tuple[str, ...]] = {
    "threshold": ("levels",),
    "count_in_window": ("above", "count", "window_s"),
    "rate": ("max_change", "per_s"),
    "flatline": ("for_s",),
    "zero": ("for_s",),
    "range": (),
    "flag": ("flags",),
    "nodata": ("after_intervals",),
    "downtime": ("after_s",),
    "composite": ("when",),
    "emergency": (),
}

#: The warning colours safety regulators use (blue low, yellow general, orange significant, red
#: major), by alarm level: level 1 is a rule's first stage, higher levels are more severe.
COLOURS = {1: "blue", 2: "yellow", 3: "orange", 4: "red"}


@dataclass(slots=True, frozen=True)
class Level:
    """One alarm level of a threshold rule: fire at ``value``, clear past ``clear``."""

    level: int
    value: float
    clear: float
    name_zh: str = ""
    name_en: str = ""


@dataclass(slots=True, frozen=True)
class Target:
    """Which points (or sites, for composite rules) a rule watches.

    Empty fields match anything. ``quantity`` matches the point's quantity (``combustible_gas``);
    ``code``/``field`` match what the device sends; ``role`` the point's role (production,
    treatment, fan, purifier); ``kind`` the reading kind judged (rtd by default).
    """

    quantity: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    field: tuple[str, ...] = ()
    role: tuple[str, ...] = ()
    site_type: tuple[str, ...] = ()
    device_kind: tuple[str, ...] = ()
    kind: str = "rtd"


@dataclass(slots=True, frozen=True)
class Rule:
    id: str
    kind: str
    title_zh: str
    title_en: str
    source: str
    version: int
    target: Target
    level: int = 3
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    enabled: bool = True
    line: int = 0  # where it was defined, for messages

    def with_params(self, changes: dict[str, Any]) -> Rule:
        """This rule with some parameters overridden (``enabled`` and ``level`` included)."""
        params = dict(self.params)
        enabled, level = self.enabled, self.level
        for key, value in changes.items():
            if key == "enabled":
                enabled = bool(value)
            elif key == "level":
                level = int(value)
            else:
                params[key] = value
        return Rule(self.id, self.kind, self.title_zh, self.title_en, self.source, self.version,
                    self.target, level, params, enabled, self.line)

    @property
    def levels(self) -> tuple[Level, ...]:
        """Threshold levels, most severe first, as :class:`Level` values."""
        out = []
        for spec in self.params.get("levels", []):
            value = float(spec["value"])
            level = int(spec["level"])
            out.append(Level(level, value, float(spec.get("clear", value)),
                             str(spec.get("name_zh", f"{_ZH_ORDINAL.get(level, level)}级报警值")),
                             str(spec.get("name_en", f"level-{level} limit"))))
        return tuple(sorted(out, key=lambda lv: lv.level))


@dataclass(slots=True, frozen=True)
class Override:
    """Parameters of one rule changed for a region prefix, site type, site or point."""

    rule: str
    region: str = ""
    site_type: str = ""
    site: str = ""  # "enterprise/site" as in the registry
    point: str = ""  # "MN/code-field"
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    line: int = 0
    source: str = ""  # the file it came from, for messages

    @property
    def rank(self) -> tuple[int, int]:
        """Specificity: point > site > site type > region (longer prefix first)."""
        if self.point:
            return (4, 0)
        if self.site:
            return (3, 0)
        if self.site_type:
            return (2, 0)
        return (1, len(self.region))


@dataclass(slots=True)
class RuleSet:
    rules: dict[str, Rule] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)

    def resolve(
        self, rule: Rule, *, region: str, site_type: str, site: str, point: str
    ) -> Rule:
        """The rule as it applies to one point: its overrides applied least specific first."""
        matching = [
            o for o in self.overrides
            if o.rule == rule.id
            and (not o.point or o.point == point)
            and (not o.site or o.site == site)
            and (not o.site_type or o.site_type == site_type)
            and (not o.region or region.startswith(o.region))
        ]
        for o in sorted(matching, key=lambda o: o.rank):
            rule = rule.with_params(o.params)
        return rule
