"""The screening's thresholds, read from ``data/screening.csv`` (each row with its source).

A row is (check, quantity, setting, value); quantity ``*`` applies to every quantity without its
own row. A deployer's ``screening.csv`` in the data directory (same columns) is laid over the
built-in table, row by row: local practice differs from city to city, and the numbers must be
changeable without touching code.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["ThresholdError", "Thresholds", "load_thresholds"]

ANY = "*"


class ThresholdError(ValueError):
    """A thresholds file that cannot be read; the message names the file and row."""


@dataclass(frozen=True)
class Thresholds:
    """(check, quantity, setting) → value, with ``*`` as the fallback quantity."""

    values: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def get(self, check: str, setting: str, quantity: str = ANY) -> float | None:
        """The value for ``quantity`` (or the ``*`` row), None when neither exists."""
        found = self.values.get((check, quantity, setting))
        if found is None:
            found = self.values.get((check, ANY, setting))
        return found

    def need(self, check: str, setting: str, quantity: str = ANY) -> float:
        """As :meth:`get`, but a missing row is a mistake in the table, said as such."""
        found = self.get(check, setting, quantity)
        if found is None:
            raise ThresholdError(f"screening.csv has no row for {check} {quantity} {setting} (nor for '*')")
        return found

    def quantities(self, check: str, setting: str) -> set[str]:
        """The quantities with their own ``setting`` row for ``check`` (not ``*``)."""
        return {q for c, q, s in self.values if c == check and s == setting and q != ANY}


def _read(text: str, source: str, into: dict[tuple[str, str, str], float]) -> None:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"check", "quantity", "setting", "value"} - set(reader.fieldnames or ())
    if missing:
        raise ThresholdError(f"{source}: missing columns {', '.join(sorted(missing))}")
    for line, row in enumerate(reader, start=2):
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            raise ThresholdError(f"{source} row {line}: value {row['value']!r} is not a number") from None
        into[(row["check"].strip(), row["quantity"].strip() or ANY, row["setting"].strip())] = value


def load_thresholds(data_dir: Path | None = None) -> Thresholds:
    """The built-in table, with the data directory's ``screening.csv`` over it when there is one."""
    values: dict[tuple[str, str, str], float] = {}
    builtin = resources.files("forewarn.data").joinpath("screening.csv").read_text(encoding="utf-8")
    _read(builtin, "screening.csv (built in)", values)
    if data_dir is not None:
        local = data_dir / "screening.csv"
        if local.is_file():
            _read(local.read_text(encoding="utf-8-sig"), str(local), values)
    return Thresholds(values)
