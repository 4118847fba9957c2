"""Reading one TOML table by key and type, writing down every mistake instead of stopping at the first.

The person fixing a notification file is usually a regulator's IT staff with no Python at hand:
each mistake is worded with where it is (which table, which line) and what would be right, and
all of them are reported together so one edit fixes them all.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

__all__ = ["TableReader", "header_lines"]


def header_lines(text: str, name: str) -> list[int]:
    """Line numbers (1-based) of each ``[[name]]`` header, in order, to point at a table."""
    pattern = re.compile(rf"^\s*\[\[\s*\"?{re.escape(name)}\"?\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def _type_name(value: object) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


class TableReader:
    """Typed access to one table; problems go to the shared list, prefixed with ``where``."""

    def __init__(self, table: dict[str, Any], where: str, problems: list[str]) -> None:
        self.table = table
        self.where = where
        self.problems = problems
        self._read: set[str] = set()

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.where}: {message}")

    def has(self, key: str) -> bool:
        return key in self.table

    def _get(self, key: str) -> Any:
        self._read.add(key)
        return self.table.get(key)

    def text(self, key: str, default: str | None = None) -> str:
        """A string; missing and without a default is a problem (returns "")."""
        value = self._get(key)
        if value is None:
            if default is None:
                self.problem(f"'{key}' is missing")
                return ""
            return default
        if not isinstance(value, str):
            self.problem(f"'{key}' must be text in quotes, not {_type_name(value)}")
            return default or ""
        if default is None and not value.strip():
            self.problem(f"'{key}' is empty")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """A number in ``[low, high]`` (``low`` excluded when it is 0: a zero wait means none)."""
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"'{key}' must be a number, not {_type_name(value)}")
            return default
        if not (low < value <= high if low == 0 else low <= value <= high):
            bound = f"above {low:g}" if low == 0 else f"at least {low:g}"
            self.problem(f"'{key}' = {value:g} is out of range: it must be {bound} and at most {high:g}")
            return default
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"'{key}' must be a whole number, not {_type_name(value)}")
            return default
        if not low <= value <= high:
            self.problem(f"'{key}' = {value} is out of range {low}..{high}")
            return default
        return int(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(f"'{key}' must be true or false (no quotes), not {_type_name(value)}")
            return default
        return value

    def texts(self, key: str, *, required: bool) -> list[str] | None:
        """A non-empty list of strings; None when missing (a problem if ``required``)."""
        value = self._get(key)
        if value is None:
            if required:
                self.problem(f"'{key}' is missing (a list such as {key} = [\"...\"])")
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(f"'{key}' must be a list of non-empty texts, such as {key} = [\"...\"]")
            return None
        if not value:
            self.problem(f"'{key}' is an empty list; leave it out or name at least one")
            return None
        return [v.strip() for v in value]

    def integers(self, key: str, low: int, high: int) -> list[int] | None:
        value = self._get(key)
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value)
        ):
            self.problem(f"'{key}' must be a non-empty list of whole numbers from {low} to {high}")
            return None
        return list(value)

    def mapping(self, key: str) -> dict[str, str]:
        """A table of text values, such as extra HTTP headers."""
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.problem(f"'{key}' must be a table of texts, such as {key} = {{ Name = \"value\" }}")
            return {}
        return dict(value)

    def check_unknown(self) -> None:
        """Name every key no getter asked for: usually a typo, which would otherwise be ignored."""
        for key in self.table:
            if key in self._read:
                continue
            close = difflib.get_close_matches(key, sorted(self._read), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(self._read))})"
            self.problem(f"unknown key '{key}'{hint}")
