"""Bulk registry import and export over HTTP (the sheets of ``forewarn registry``) and device tokens.

``POST /api/v1/registry/import`` takes one CSV (UTF-8 or GBK) or XLSX file as the body; its
rows are checked exactly as the command checks them, every mistake listed at once, and a
district administrator's file may only hold rows of their own region. The import is one
transaction on the writer thread, audited with its counts; a running pipeline notices the
new registry version and claims any quarantined packets of the devices it registers.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
import tempfile
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from forewarn.access.roles import Action
from forewarn.access.scope import Scope
from forewarn.access.users import issue_device_token, revoke_device_tokens
from forewarn.catalogue import Catalogue
from forewarn.registry.files import (
    Finding,
    RegistryFileError,
    RegistrySheets,
    write_devices_csv,
    write_points_csv,
    write_regions_csv,
    write_xlsx,
)
from forewarn.registry.imports import ImportRefused, import_sheets, read_upload
from forewarn.store import registry_reads
from forewarn.store.base import ImportResult
from forewarn.store.registry_export import export_in_scope
from forewarn.store.sqlite import SqliteStore
from forewarn.web.auth import BEARER, require_user
from forewarn.web.body import read_body
from forewarn.web.context import ApiContext
from forewarn.web.problems import ApiProblem
from forewarn.web.query import reject_unknown_query
from forewarn.web.reads import read
from forewarn.web.writes import on_writer, write

__all__ = ["ImportAnswer", "ImportFinding", "export_registry", "import_registry", "issue_token", "revoke_tokens"]

MAX_IMPORT_BYTES = 20_000_000
_CATALOGUE = Catalogue()
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SUFFIX = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


class ImportFinding(msgspec.Struct):
    """One mistake found in an uploaded sheet, where a person finds it (row 1 is the header)."""

    file: str
    row: int | None
    column: str | None
    message: str


class ImportAnswer(msgspec.Struct):
    """What an import changed."""

    imported: ImportResult
    note: str


def _findings(findings: list[Finding]) -> list[dict[str, Any]]:
    return [msgspec.structs.asdict(ImportFinding(f.file, f.row, f.column, f.message)) for f in findings]


def _upload_name(filename: str | None, suffix: str) -> str:
    """The name findings call the file by: the one the browser sent (its last path part, printable,
    at most 100 characters), or "the sheet"."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())[:100]
    return name or f"the sheet ({suffix.lstrip('.')})"


@post("/api/v1/registry/import", tags=["registry"], summary="Import a registry sheet (CSV or XLSX)", security=BEARER,
      status_code=200)
async def import_registry(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    filename: Annotated[str | None, QueryParameter(description="the file's own name, used in the findings")] = None,
) -> ImportAnswer:
    """The body is one file: ``Content-Type: text/csv`` (UTF-8 or GBK) or the XLSX type. Devices,
    points and regions sheets as in the README; re-importing updates and never duplicates. Every
    mistake is listed (400; 403 when rows lie outside your region), each in ``findings`` with its
    file, row (1 is the header) and column, and nothing is imported until all are fixed."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)
    reject_unknown_query(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    suffix = _SUFFIX.get(media)
    if suffix is None:
        raise ApiProblem(415, f"send the sheet as text/csv or as an XLSX file (got {media or 'no content type'})",
                         title="Unsupported media type")
    body = await read_body(request, MAX_IMPORT_BYTES)
    name = _upload_name(filename, suffix)
    try:  # a large workbook takes seconds to read: not on the loop that answers every device
        sheets = await asyncio.to_thread(read_upload, body, suffix, name, _CATALOGUE)
    except RegistryFileError as exc:
        raise ApiProblem(400, str(exc), problems=exc.problems, findings=_findings(exc.findings)) from None
    sources = [f"{name} (HTTP, {media}, {len(body):,} bytes)"]

    def apply(store: SqliteStore) -> ImportResult:
        return import_sheets(store, sheets, scope=user.scope, actor=user.name, origin="api", sources=sources)

    try:
        result = await on_writer(ctx, apply)
    except ImportRefused as exc:
        problems = [str(f) for f in exc.findings]
        raise ApiProblem(exc.status, "; ".join(problems[:20]), problems=problems,
                         findings=_findings(exc.findings)) from None
    await ctx.pipeline.reload_registry()  # the new devices are accepted now, not at the next poll
    return ImportAnswer(result, "quarantined packets of newly registered devices are claimed within seconds")


@get("/api/v1/registry/export", tags=["registry"], summary="Export the registry sheets (CSV or XLSX)",
     security=BEARER)
async def export_registry(
    request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext],
    sheet: Annotated[str, QueryParameter(description="devices (default), points or regions; XLSX holds all three")]
    = "devices",
    format_: Annotated[str, QueryParameter(name="format", description="csv (default) or xlsx")] = "csv",
) -> Response[bytes]:
    """The registry of your scope as the sheets ``POST /api/v1/registry/import`` and ``forewarn
    registry import`` read: re-importable as they are. Devices carry their HJ 212 passwords (so
    that the sheet re-imports), hence only for those who may change the registry."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)
    if sheet not in ("devices", "points", "regions"):
        raise ApiProblem(400, f"sheet={sheet!r}: use devices, points or regions")
    if format_ not in ("csv", "xlsx"):
        raise ApiProblem(400, f"format={format_!r}: use csv or xlsx")

    def export(db: sqlite3.Connection) -> Response[bytes]:
        # read and written out on a reader thread: 10,000 devices and their points are hundreds
        # of milliseconds, which on the loop every device's answer waited for
        wanted = ("regions", "devices", "points") if format_ == "xlsx" else (sheet,)  # a CSV is one sheet
        sheets = RegistrySheets(*export_in_scope(db, user.scope, wanted))
        if format_ == "xlsx":
            with tempfile.TemporaryDirectory(prefix="forewarn-export-") as folder:
                path = Path(folder) / "registry.xlsx"
                write_xlsx(path, sheets)
                body = path.read_bytes()
            return Response(body, media_type=_XLSX,
                            headers={"Content-Disposition": 'attachment; filename="registry.xlsx"'})
        out = io.StringIO()
        out.write("\ufeff")  # Excel reads UTF-8 only with its byte-order mark; the importer skips it
        {"devices": lambda: write_devices_csv(out, sheets.devices),
         "points": lambda: write_points_csv(out, sheets.points),
         "regions": lambda: write_regions_csv(out, sheets.regions)}[sheet]()
        return Response(out.getvalue().encode("utf-8"), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{sheet}.csv"'})

    return await read(ctx, export)


def _device_in_reach(db: sqlite3.Connection, device_id: int, scope: Scope) -> None:
    found, region_code = registry_reads.device_region_in_scope(db, scope, device_id)
    if not found:
        raise ApiProblem(404, f"no device {device_id} in your scope")
    if not scope.allows_region(region_code):
        raise ApiProblem(403, f"device {device_id} is outside the region you may change")


@post("/api/v1/devices/{device_id:int}/tokens", tags=["registry"], summary="Issue a device token", security=BEARER,
      status_code=201)
async def issue_token(device_id: FromPath[int], request: Request[Any, Any, Any],
                      ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """A new token for a device that pushes over HTTP (ThingsBoard style); shown only in this answer.
    The device posts to ``telemetry_path``. Older tokens stay valid until revoked (rotation without a gap)."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)

    def issue(db: sqlite3.Connection) -> str:
        _device_in_reach(db, device_id, user.scope)
        return issue_device_token(db, device_id, actor=user.name, origin="api")

    token = await write(ctx, issue)
    return {"device_id": device_id, "token": token, "telemetry_path": f"/api/v1/{token}/telemetry"}


@delete("/api/v1/devices/{device_id:int}/tokens", tags=["registry"], summary="Revoke a device's tokens",
        security=BEARER, status_code=200)
async def revoke_tokens(device_id: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Every token of the device stops working at once."""
    user = require_user(request, ctx, Action.WRITE_REGISTRY)

    def revoke(db: sqlite3.Connection) -> int:
        _device_in_reach(db, device_id, user.scope)
        return revoke_device_tokens(db, device_id, actor=user.name, origin="api")

    return {"device_id": device_id, "revoked": await write(ctx, revoke)}
