"""What a report is, whatever it is rendered as: sections of rows under typed columns.

One :class:`Report` is built from the figures (``reports/build.py``) and then drawn as an
XLSX workbook (a sheet per section), a printable HTML page, or sent as JSON to the
statistics page. Every renderer works from the same columns, so a number is the same number
in all three, and its kind (a rate, a count, minutes) decides how each renders it: the XLSX
keeps numbers as numbers with a number format, the page formats them for the eye.

Texts come in both languages (``Text``): the renderers pick one (Chinese by default).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Cell", "Chart", "Column", "Report", "ReportSubject", "Section", "Text", "TARGET_RATE"]

#: the line regulators assess transmission, validity, effective transmission, networking and
#: online rates against (DOMAIN.md §4)
TARGET_RATE = 0.9

#: a cell: text, a number, or nothing (no data to compute it from: shown as a dash, an empty cell)
Cell = str | int | float | None

#: how a column's numbers are meant: ``rate`` 0..1 (shown as a percentage), ``int`` a count,
#: ``number`` a measure (a multiple), ``minutes`` and ``hours`` durations, ``text`` words
ColumnKind = Literal["text", "int", "rate", "number", "minutes", "hours"]


class Text(msgspec.Struct, frozen=True):
    """Words in Chinese and English."""

    zh: str
    en: str

    def pick(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Column(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    title: Text
    kind: ColumnKind
    #: rates only: the assessment line this column is judged against (cells below it stand out)
    target: float | None = None


class Chart(msgspec.Struct, frozen=True, kw_only=True):
    """A bar chart of a section: one bar group per row, labelled by ``label`` (a column key),
    one series per key of ``values``; ``target`` draws the assessment line."""

    label: str
    values: list[str]
    target: float | None = None
    #: the first rows to leave out of the chart (the subject's own total, which would dwarf its parts)
    skip: int = 0


class Section(msgspec.Struct, frozen=True, kw_only=True):
    #: summary, transmission, online, exceedances, alarms, facilities, rankings ...
    key: str
    title: Text
    columns: list[Column]
    #: each row holds one cell per column, in the columns' order
    rows: list[list[Cell]]
    chart: Chart | None = None
    note: Text | None = None


class ReportSubject(msgspec.Struct, frozen=True, kw_only=True):
    """What a report is about: a region (its districts as rows) or an enterprise (its sites)."""

    type: Literal["region", "enterprise"]
    #: a region's GB/T 2260 code, or an enterprise's id as text
    code: str
    name: str


class Report(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["daily", "monthly", "annual"]
    subject: ReportSubject
    #: 2026-10-05, 2026-10 or 2026
    period: str
    #: the period's start (inclusive) and end (exclusive), ISO 8601 with the zone's offset
    start: str
    end: str
    #: when the report was made, ISO 8601
    generated: str
    title: Text
    sections: list[Section]

    def section(self, key: str) -> Section:
        """The section called ``key`` (KeyError when the report has none)."""
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)

    def file_stem(self) -> str:
        """The report's file name without its extension: ``monthly-region-140200-2026-10``."""
        return f"{self.kind}-{self.subject.type}-{self.subject.code}-{self.period}"
