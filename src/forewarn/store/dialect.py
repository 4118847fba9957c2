"""The few places where SQLite's and PostgreSQL's SQL differ for the queries forewarn shares.

Queries that both stores run are written once, with ``?`` parameters and the SQL both engines
understand; a :class:`Dialect` turns such a text into its engine's form (psycopg takes ``%s``,
and a literal ``%`` must then be doubled) and writes the one test whose best form differs
between them: "this column starts with that prefix", which the scope of every regional user
puts beneath every read (:mod:`forewarn.access.scope`). SQLite has no ``starts_with``; its
``substr(col, 1, n) = prefix`` is exact and case-sensitive, where ``LIKE`` is neither.
PostgreSQL's ``starts_with`` says the same in one parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["POSTGRES", "SQLITE", "Dialect", "dialect_of"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one engine spells what the shared queries need."""

    name: Literal["sqlite", "postgres"]

    def starts_with(self, expr: str, prefix: str) -> tuple[str, list[object]]:
        """An SQL boolean (with ``?`` parameters) true when ``expr`` starts with ``prefix``."""
        if self.name == "sqlite":
            return f"substr({expr}, 1, ?) = ?", [len(prefix), prefix]
        return f"starts_with({expr}, ?)", [prefix]

    def sql(self, text: str) -> str:
        """``text``, written with ``?`` parameters, in this engine's parameter style."""
        if self.name == "sqlite":
            return text
        return _qmark_to_format(text)


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgres")


def dialect_of(url: str) -> Dialect:
    """The dialect of a store URL (``sqlite:///...`` or ``postgresql://...``)."""
    return POSTGRES if url.startswith(("postgresql://", "postgres://")) else SQLITE


def _qmark_to_format(text: str) -> str:
    """``?`` outside quoted literals and identifiers become ``%s``; every other ``%`` is doubled."""
    out: list[str] = []
    quote: str | None = None
    for ch in text:
        if ch == "%":
            out.append("%%")
            continue
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append(ch)
    return "".join(out)
