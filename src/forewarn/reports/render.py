"""A report as the bytes of a file, in the format a name's extension says (.xlsx or .html)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

from forewarn.reports.html import render_html
from forewarn.reports.shapes import Report
from forewarn.reports.xlsx import render_xlsx

__all__ = ["FORMATS", "Format", "MEDIA_TYPES", "format_of", "render"]

Format = Literal["xlsx", "html"]
FORMATS: tuple[Format, ...] = ("xlsx", "html")
MEDIA_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


def format_of(name: str | PurePath) -> Format:
    """The format a file name asks for; ValueError naming the ones there are."""
    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix == "htm":
        suffix = "html"
    if suffix == "xlsx":
        return "xlsx"
    if suffix == "html":
        return "html"
    raise ValueError(f"cannot tell the format from {str(name)!r}: end the file name in .xlsx or .html")


def render(report: Report, fmt: Format, lang: str = "zh") -> bytes:
    """The file's bytes."""
    if fmt == "xlsx":
        return render_xlsx(report, lang)
    return render_html(report, lang).encode("utf-8")
