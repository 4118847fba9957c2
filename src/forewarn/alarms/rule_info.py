"""The rule that raised an alarm, as it stood in the version the alarm records.

A rule file may change after an alarm was raised (a limit lowered, an override added); the
alarm desk must show the limit the alarm was judged by, not today's. Each version's content is
kept in ``rule_versions.body`` (:func:`forewarn.rules.loader.rule_body`: the rule and the
overrides that refined it), so the rule is rebuilt from that text and resolved for the alarm's
point with the rule model's own override resolution (:meth:`RuleSet.resolve`), never a copy.

Pure: text in, values out.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from forewarn.alarms.views import Limit, RuleInfo
from forewarn.rules.model import Override, Rule, RuleSet, Target

__all__ = ["rule_info"]

_RULE_FIELDS = {f.name for f in fields(Rule)} - {"target", "version", "line"}
_TARGET_FIELDS = {f.name for f in fields(Target)}
_OVERRIDE_FIELDS = {f.name for f in fields(Override)} - {"line"}


def rule_info(body: str, version: int, *, region: str, site_type: str, site: str, point: str) -> RuleInfo | None:
    """The rule of ``body`` (a ``rule_versions`` text) resolved for one subject; None when the
    text cannot be read as a rule (written by a version of forewarn that kept other fields).

    ``site`` is ``enterprise/site`` and ``point`` ``MN/code-field``, as overrides name them."""
    try:
        spec: dict[str, Any] = json.loads(body)
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in dict(spec.get("target") or {}).items() if k in _TARGET_FIELDS}
        target = Target(**given)
        rule = Rule(**{k: v for k, v in spec.items() if k in _RULE_FIELDS}, version=version, target=target)
        overrides = [Override(**{k: v for k, v in o.items() if k in _OVERRIDE_FIELDS})
                     for o in spec.get("overrides", [])]
        resolved = RuleSet({rule.id: rule}, overrides).resolve(rule, region=region, site_type=site_type, site=site,
                                                               point=point)
        levels = resolved.levels if resolved.kind == "threshold" else ()
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    op = str(resolved.params.get("op", ">=")) if resolved.kind == "threshold" else ""
    return RuleInfo(id=resolved.id, version=version, kind=resolved.kind, title_zh=resolved.title_zh,
                    title_en=resolved.title_en, source=resolved.source, op=op,
                    limits=[Limit(level=lv.level, value=lv.value, clear=lv.clear, name_zh=lv.name_zh,
                                  name_en=lv.name_en) for lv in levels])
