"""Factor codes, quantity kinds, units and site types, read from the data tables in ``data/``.

The catalogue answers one question for the pipeline: when a registered device reports a
(code, sub-field) the registry has no point for, what is that point? Standard factor codes
name the quantity themselves (``a34002`` is PM10); electricity monitors and gas telemetry put
the quantity in the sub-field (``100001-Ia`` is a current). Anything else is still stored,
as a point of unknown quantity, so that nothing a device sends is lost.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

__all__ = ["Catalogue", "PointTemplate", "SiteType"]


@dataclass(slots=True, frozen=True)
class PointTemplate:
    """What the catalogue knows of a (code, sub-field): names, quantity and unit."""

    name_zh: str
    name_en: str
    quantity: str
    unit: str


@dataclass(slots=True, frozen=True)
class SiteType:
    id: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...]


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("forewarn.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


class Catalogue:
    """The built-in tables, loaded once per process and passed down explicitly."""

    def __init__(self) -> None:
        self.factors = {
            r["code"]: PointTemplate(r["name_zh"], r["name_en"], r["quantity"], r["unit"])
            for r in _rows("factors.csv")
        }
        self.subfields = {
            r["field"]: PointTemplate(r["name_zh"], r["name_en"], r["quantity"], r["unit"])
            for r in _rows("subfields.csv")
        }
        self.site_types = {
            r["id"]: SiteType(
                r["id"], r["name_zh"], r["name_en"], tuple(a for a in r["aliases"].split("|") if a)
            )
            for r in _rows("site_types.csv")
        }
        self._site_type_by_name: dict[str, str] = {}
        for st in self.site_types.values():
            for name in (st.id, st.name_zh, st.name_en, *st.aliases):
                self._site_type_by_name[name.casefold()] = st.id

    def point_template(self, code: str, field: str) -> PointTemplate:
        """Defaults for a point first seen in data: by code, else by sub-field, else unknown."""
        by_code = self.factors.get(code)
        if by_code is not None:
            return by_code
        by_field = self.subfields.get(field)
        if by_field is not None:
            return PointTemplate(
                f"{code} {by_field.name_zh}", f"{code} {by_field.name_en}",
                by_field.quantity, by_field.unit,
            )
        return PointTemplate(code, code, "unknown", "")

    def site_type_id(self, name: str) -> str | None:
        """The site-type id for an id, a Chinese or English name or an alias; None if unknown."""
        return self._site_type_by_name.get(name.strip().casefold())
