"""Lists as pages: ``limit``/``offset`` with the total and the next page's address, as JSON or CSV.

CSV is what regulators open in Excel: UTF-8 with a byte-order mark (without one Excel reads
Chinese as mojibake), one header row, the same columns as the JSON items. Ask for it with
``format=csv`` or ``Accept: text/csv``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.params import QueryParameter

from forewarn.web.problems import ApiProblem

__all__ = [
    "DEFAULT_LIMIT", "MAX_LIMIT", "Format", "Limit", "Offset", "Page", "check_page", "next_page", "table_response",
    "wants_csv",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: a validated (limit, offset)
Page = tuple[int, int]
#: the query parameters every list takes, declared once for the OpenAPI document
Limit = Annotated[int, QueryParameter(description=f"rows per page (1 to {MAX_LIMIT})", ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, QueryParameter(description="rows to skip", ge=0)]
Format = Annotated[str, QueryParameter(name="format", description="json (default) or csv (or Accept: text/csv)")]


def check_page(limit: int, offset: int) -> Page:
    """Validated ``(limit, offset)``; 400 with what to send otherwise."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiProblem(400, f"limit={limit}: use 1 to {MAX_LIMIT}")
    if not 0 <= offset <= 2**62:
        raise ApiProblem(400, f"offset={offset}: use 0 or more")
    return limit, offset


def wants_csv(request: Request[Any, Any, Any], fmt: str) -> bool:
    if fmt not in ("json", "csv", ""):
        raise ApiProblem(400, f"format={fmt!r}: use json or csv")
    if fmt:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


#: a cell starting with one of these is a formula to Excel: a name like "=HYPERLINK(...)" typed
#: into the registry must not run when a regulator opens the export (OWASP "CSV injection")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text, the quote hidden by Excel
    return value


def table_response(
    request: Request[Any, Any, Any], items: Sequence[dict[str, Any]], total: int, page: Page, fmt: str = "",
    *, columns: Sequence[str] | None = None, name: str = "table",
) -> Response[Any]:
    """One page of a list: JSON ``{items, total, limit, offset, next}`` or CSV (header + rows)."""
    limit, offset = page
    if wants_csv(request, fmt):
        cols = list(columns or (items[0].keys() if items else []))
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(cols)
        for item in items:
            writer.writerow([_cell(item.get(c)) for c in cols])
        # a header is Latin-1: the file name from a path (a region code, an MN) is cut to safe ASCII
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "table"
        headers = {"Content-Disposition": f'attachment; filename="{safe}.csv"', "X-Total-Count": str(total)}
        return Response(out.getvalue(), media_type="text/csv", headers=headers)
    nxt = next_page(request, page, len(items), total)
    return Response({"items": list(items), "total": total, "limit": limit, "offset": offset, "next": nxt})


def next_page(request: Request[Any, Any, Any], page: Page, shown: int, total: int) -> str | None:
    """The address of the page after this one (``shown`` rows from ``page``'s offset), None on the last."""
    limit, offset = page
    if offset + shown >= total:
        return None
    query = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
    query.update({"limit": str(limit), "offset": str(offset + limit)})
    return f"{request.url.path}?{urlencode(query)}"
