"""A report as an XLSX workbook: a sheet per section, Chinese headers, numbers as numbers.

openpyxl, not XlsxWriter: it is already forewarn's XLSX library (registry sheets are read and
written with it), so a deployment carries one library less, and tests read the very files it
writes. XlsxWriter writes faster, but a report has a row per district or site (hundreds, not
millions of cells), which openpyxl writes in milliseconds.

Every number stays a number: a rate is 0.953 with the format ``0.0%`` (Excel shows 95.3 %
and sums, sorts and charts it), a count an integer, a duration minutes with one decimal. A
cell without data is left empty (no 0 that would read as "nothing happened"). Text that
starts like a formula (``=``) is stored as text: a name from the registry never runs.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from forewarn.reports.shapes import Column, Report, Section, Text

__all__ = ["HEADER_ROW", "render_xlsx"]

#: the row of column headers on every sheet (above it: title, subject and period, a blank row)
HEADER_ROW = 4

_FORMATS = {"rate": "0.0%", "int": "0", "number": "0.00", "minutes": "0.0", "hours": "0.0"}
_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_BELOW = Font(color="C00000", bold=True)
#: characters a sheet title may not hold
_BAD_TITLE = str.maketrans({c: " " for c in "[]:*?/\\"})

_LABELS = {
    "subject": Text("对象", "Subject"), "period": Text("统计周期", "Period"),
    "generated": Text("生成时间", "Generated"),
}


def render_xlsx(report: Report, lang: str = "zh") -> bytes:
    """The workbook's bytes (``lang`` zh or en: titles and headers)."""
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    book.properties.title = report.title.pick(lang)
    book.properties.creator = "forewarn"
    for section in report.sections:
        _sheet(book.create_sheet(_sheet_title(section.title.pick(lang))), report, section, lang)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(text: str) -> str:
    return text.translate(_BAD_TITLE)[:31]


def _sheet(ws: Worksheet, report: Report, section: Section, lang: str) -> None:
    ws["A1"] = f"{report.title.pick(lang)} · {section.title.pick(lang)}"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = (f"{_LABELS['subject'].pick(lang)}: {report.subject.name}    "
                f"{_LABELS['period'].pick(lang)}: {report.period}    "
                f"{_LABELS['generated'].pick(lang)}: {report.generated}")
    ws["A2"].font = Font(color="595959")
    _text(ws["A1"])
    _text(ws["A2"])
    for i, column in enumerate(section.columns, start=1):
        head = ws.cell(HEADER_ROW, i, column.title.pick(lang))
        head.font = Font(bold=True)
        head.fill = _HEADER_FILL
        head.border = _BORDER
        head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for r, row in enumerate(section.rows, start=HEADER_ROW + 1):
        for i, (column, value) in enumerate(zip(section.columns, row, strict=True), start=1):
            cell = ws.cell(r, i, value)
            cell.border = _BORDER
            if column.kind == "text":
                _text(cell)
            else:
                cell.number_format = _FORMATS[column.kind]
                if _below(column, value):
                    cell.font = _BELOW
    for i, column in enumerate(section.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _width(column, section, i - 1, lang)
    ws.freeze_panes = f"B{HEADER_ROW + 1}"
    if section.note is not None:
        note_cell = ws.cell(HEADER_ROW + len(section.rows) + 2, 1, section.note.pick(lang))
        note_cell.font = Font(italic=True, color="595959")
        _text(note_cell)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"


def _text(cell: object) -> None:
    """Text is text: openpyxl would store ``=...`` as a live formula."""
    value = getattr(cell, "value", None)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # type: ignore[attr-defined]


def _below(column: Column, value: object) -> bool:
    return (column.target is not None and isinstance(value, int | float) and not isinstance(value, bool)
            and value < column.target)


def _width(column: Column, section: Section, index: int, lang: str) -> float:
    """Wide enough for the header and the longest text (a CJK character counts twice)."""
    texts = [column.title.pick(lang)] + [str(row[index]) for row in section.rows if isinstance(row[index], str)]
    longest = max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in t) for t in texts), default=8)
    return float(min(max(longest + 2, 10), 48))
