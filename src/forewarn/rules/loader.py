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

__all__ = ["build_catalog", "load_effective_rules", "number_versions", "rebuild_catalog", "rule_body"]


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
    return rebuild_catalog(devices, points, catalogue, None)[0]


def rebuild_catalog(
    devices: list[tuple[Any, ...]], points: list[tuple[Any, ...]], catalogue: Catalogue,
    previous: RuleCatalog | None,
) -> tuple[RuleCatalog, set[int]]:
    """The catalogue of these rows, and the ids of the devices whose context or points differ
    from ``previous`` (all of them without one).

    What did not change is taken from ``previous`` (the same objects), so that a registry edit
    neither rebinds the engine's 10,000 other devices nor leaves hundreds of thousands of new
    long-lived objects for the collector's next full pass to visit (see :mod:`forewarn.heap`).
    """
    old_devices = previous.devices if previous is not None else {}
    old_points = previous.known_points if previous is not None else {}
    changed: set[int] = set()
    by_id: dict[int, DeviceContext] = {}
    for row in devices:
        device = DeviceContext(*row)
        old = old_devices.get(device.id)
        if old == device:
            by_id[device.id] = old
        else:
            by_id[device.id] = device
            changed.add(device.id)
    changed.update(old_devices.keys() - by_id.keys())
    known: dict[tuple[int, str, str], tuple[str, str, str, str, float | None, float | None, str]] = {}
    for device_id, code, field, name, quantity, unit, role, lower, upper in points:
        key = (device_id, code, field)
        was = old_points.get(key)
        if (was is not None and was[1:6] == (quantity, unit, role, lower, upper)
                and was[0] == (name or catalogue.point_template(code, field).name_zh)):
            known[key] = was
            continue
        template = catalogue.point_template(code, field)
        known[key] = (name or template.name_zh, quantity, unit, role, lower, upper, template.name_en)
        changed.add(device_id)
    changed.update(key[0] for key in old_points.keys() - known.keys())
    return RuleCatalog(by_id, known, catalogue), changed
