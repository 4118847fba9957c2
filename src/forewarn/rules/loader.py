"""The rules in force: the presets, then the regulator's own files; their version numbers;
and the engine's view of the registry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from forewarn.catalogue import Catalogue
from forewarn.rules.catalog import DeviceContext, RuleCatalog
from forewarn.rules.files import load_rules
from forewarn.rules.model import RuleSet

__all__ = ["build_catalog", "load_effective_rules", "number_versions", "rule_body"]


def rule_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.toml")) if folder.is_dir() else []


def load_effective_rules(folder: Path) -> RuleSet:
    """Presets, then every ``*.toml`` in ``folder`` in name order (raises RuleFileError)."""
    return load_rules(rule_files(folder))


def rule_body(ruleset: RuleSet, rule_id: str) -> str:
    """A canonical text of a rule and the overrides that refine it: what its version names."""
    rule = ruleset.rules[rule_id]
    spec: dict[str, Any] = asdict(rule)
    spec.pop("line", None)
    spec.pop("version", None)
    spec["overrides"] = [
        {k: v for k, v in asdict(o).items() if k not in ("line", "source")}
        for o in ruleset.overrides if o.rule == rule_id
    ]
    return json.dumps(spec, sort_keys=True, ensure_ascii=False, default=list)


def number_versions(ruleset: RuleSet, numbering: Callable[[str, str, str], int]) -> dict[str, int]:
    """Each rule's version: ``numbering(id, digest, body)`` numbers a content it has not seen."""
    versions = {}
    for rule_id in ruleset.rules:
        body = rule_body(ruleset, rule_id)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
        versions[rule_id] = numbering(rule_id, digest, body)
    return versions


def build_catalog(
    devices: list[tuple[Any, ...]], points: list[tuple[Any, ...]], catalogue: Catalogue
) -> RuleCatalog:
    """From the store's ``rule_context()`` rows."""
    by_id = {row[0]: DeviceContext(*row) for row in devices}
    known = {}
    for device_id, code, field, name, quantity, unit, role, lower, upper in points:
        template = catalogue.point_template(code, field)
        known[(device_id, code, field)] = (name or template.name_zh, quantity, unit, role, lower, upper,
                                           template.name_en)
    return RuleCatalog(by_id, known, catalogue)
