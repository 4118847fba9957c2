"""The kinds of doubtful data the screening knows: each a registered check, built-ins included.

Nothing special-cases a kind: the service runs every registered check, the API lists the
kinds with their titles from here, and the dashboard shows any finding by the evidence shape
all checks share (:mod:`forewarn.stats.checks.base`). A new kind is a module with a check
and one :meth:`CheckRegistry.register` call.
"""

from __future__ import annotations

from collections.abc import Iterator

from forewarn.stats.checks.base import Check
from forewarn.stats.checks.clock_drift import ClockDrift
from forewarn.stats.checks.constant import ConstantValue
from forewarn.stats.checks.impossible import ImpossibleValue
from forewarn.stats.checks.neighbour_drop import NeighbourDrop
from forewarn.stats.checks.repeats import RepeatedPackets

__all__ = ["CheckRegistry", "builtin_checks"]


class CheckRegistry:
    """Checks by kind, in the order they were registered."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(self, check: Check) -> None:
        if check.kind in self._checks:
            raise ValueError(f"a screening check of kind {check.kind!r} is registered already")
        self._checks[check.kind] = check

    def get(self, kind: str) -> Check | None:
        return self._checks.get(kind)

    def __iter__(self) -> Iterator[Check]:
        return iter(list(self._checks.values()))

    def kinds(self) -> list[str]:
        return list(self._checks)


def builtin_checks() -> CheckRegistry:
    """A registry holding the built-in checks (a new one each call: no global state)."""
    registry = CheckRegistry()
    for check in (ConstantValue(), ImpossibleValue(), NeighbourDrop(), ClockDrift(), RepeatedPackets()):
        registry.register(check)
    return registry
