"""A registry import: the one use case behind ``forewarn registry import``, ``POST
/api/v1/registry/import`` and the dashboard's upload.

Sheets are read first (:func:`read_upload` for a file that came over HTTP: off the event loop,
named by the name it was sent with, never by a server path), then :func:`import_sheets` checks
them against the database and applies them in one transaction:

- what the user may not import is refused row by row, each finding with its file, row and
  column, and nothing is imported until all are fixed: a row of another region, a point of a
  device neither registered nor in the sheets, and for a district administrator anything that
  exists outside their reach (an MN, an enterprise, a site). An MN registered elsewhere is
  refused without saying where: out of scope looks like nothing, as ``GET /api/v1/devices``
  shows nothing;
- a site's status follows its lifecycle (:mod:`forewarn.registry.lifecycle`): an empty
  ``site_status`` keeps the stored status (a re-import of an old sheet does not restart a
  stopped site), a given one must be a change the lifecycle allows, and every change the
  import makes is kept in the site's history;
- every entity the import changed is audited before and after (:mod:`forewarn.registry.import_audit`).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.registry.camera_sheet import apply_cameras
from forewarn.registry.edit import parent_problem
from forewarn.registry.files import Finding, RegistrySheets, read_registry_files
from forewarn.registry.import_audit import ImportAudit
from forewarn.registry.lifecycle import record_change, transition_problem
from forewarn.store.base import DeviceRow, ImportResult
from forewarn.store.sqlite import SqliteStore

__all__ = ["ImportRefused", "import_sheets", "reach_findings", "read_upload"]


class ImportRefused(Exception):
    """Rows the database side refuses: 403 (outside the user's reach) or 400, with every finding."""

    def __init__(self, status: int, findings: list[Finding]) -> None:
        super().__init__("; ".join(str(f) for f in findings[:20]))
        self.status = status
        self.findings = findings


def read_upload(body: bytes, suffix: str, name: str, catalogue: Catalogue) -> RegistrySheets:
    """The sheets of one uploaded file (``suffix`` ``.csv`` or ``.xlsx``), every finding named by
    ``name`` (the file's own name as the browser sent it, or "the sheet"), not the temporary path."""
    with tempfile.TemporaryDirectory(prefix="forewarn-import-") as folder:
        path = Path(folder) / f"registry{suffix}"
        path.write_bytes(body)
        return read_registry_files([path], catalogue, names={path: name})


def _device_region(db: sqlite3.Connection, mn: str) -> str | None:
    """The region of the site a registered MN belongs to ("" for a site without one); None: not registered."""
    row = db.execute(
        "SELECT s.region_code FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.mn = ?", (mn,)
    ).fetchone()
    return None if row is None else str(row[0] or "")


def reach_findings(sheets: RegistrySheets, scope: Scope, db: sqlite3.Connection) -> tuple[list[Finding], int]:
    """Rows the user may not import, and the status to answer (403 when any lies outside their reach)."""
    out: list[Finding] = []
    outside = 0
    for r in sheets.regions:
        if not scope.allows_region(r.code):
            out.append(sheets.finding(r.code, "region_code", f"region {r.code} is outside your region"))
    for d in sheets.devices:
        if not scope.allows_region(d.region_code):
            out.append(sheets.finding(d.mn, "region_code", f"region {d.region_code} is outside yours"))
    outside = len(out)
    in_file = {d.mn for d in sheets.devices}
    for p in sheets.points:
        if p.mn in in_file:
            continue
        region = _device_region(db, p.mn)
        key = (p.mn, p.code, p.field)
        if region is None or not scope.allows_region(region):  # outside the reach is as unknown
            out.append(sheets.finding(key, "mn", f"device {p.mn} is neither registered in your region nor in "
                                                  "these sheets: add its row to a devices sheet"))
    # what exists elsewhere may not be moved into this district by naming it in a sheet: an MN,
    # an enterprise (matched by name) or a site (by enterprise and name) registered outside
    for d in sheets.devices:
        region = _device_region(db, d.mn)
        if region is not None and not scope.allows_region(region):
            outside += 1
            out.append(sheets.finding(d.mn, "mn", f"mn {d.mn} cannot be registered by you: choose another MN, "
                                                  "or ask a city administrator"))
        row = db.execute("SELECT region_code FROM enterprises WHERE name = ?", (d.enterprise,)).fetchone()
        if row is not None and not scope.allows_region(row[0]):
            outside += 1
            out.append(sheets.finding(d.mn, "enterprise", f"enterprise {d.enterprise} is registered outside your "
                                                          "region: a city administrator can add sites to it"))
        row = db.execute(
            "SELECT s.region_code FROM sites s JOIN enterprises e ON e.id = s.enterprise_id "
            "WHERE e.name = ? AND s.name = ?", (d.enterprise, d.site),
        ).fetchone()
        if row is not None and not scope.allows_region(row[0]):
            outside += 1
            out.append(sheets.finding(d.mn, "site", f"site {d.enterprise}/{d.site} lies outside your region"))
    for r in sheets.regions:
        problem = parent_problem(r.code, r.parent_code or None, scope, db, explicit=bool(r.parent_code))
        if problem:
            outside += "only a city administrator" in problem
            out.append(sheets.finding(r.code, "parent_region_code", f"region {r.code} {problem}"))
    for d in sheets.devices:
        parent = d.parent_region_code
        problem = parent_problem(d.region_code, parent or None, scope, db, explicit=bool(parent))
        if problem:
            outside += "only a city administrator" in problem
            out.append(sheets.finding(d.mn, "parent_region_code", f"region {d.region_code} {problem}"))
    unique = list(dict.fromkeys(out))
    return unique, 403 if outside else 400


SiteKey = tuple[str, str]


def _stored_statuses(db: sqlite3.Connection, keys: set[SiteKey]) -> dict[SiteKey, tuple[int, str]]:
    found: dict[SiteKey, tuple[int, str]] = {}
    for enterprise, site in keys:
        row = db.execute("SELECT s.id, s.status FROM sites s JOIN enterprises e ON e.id = s.enterprise_id "
                         "WHERE e.name = ? AND s.name = ?", (enterprise, site)).fetchone()
        if row is not None:
            found[(enterprise, site)] = (int(row[0]), str(row[1]))
    return found


def _site_statuses(sheets: RegistrySheets, devices: list[DeviceRow], db: sqlite3.Connection) -> list[Finding]:
    """Fill each row's empty ``site_status`` with the stored one (``active`` for a new site), in
    place; findings for a status the lifecycle does not allow, or one site given two statuses."""
    stored = _stored_statuses(db, {(d.enterprise, d.site) for d in devices})
    out: list[Finding] = []
    given: dict[SiteKey, DeviceRow] = {}
    for i, d in enumerate(devices):
        key = (d.enterprise, d.site)
        now = stored.get(key)
        if not d.site_status:
            devices[i] = replace(d, site_status=now[1] if now else "active")
            continue
        first = given.setdefault(key, d)
        if first.site_status != d.site_status:
            out.append(sheets.finding(d.mn, "site_status", f"site {d.enterprise}/{d.site} is {first.site_status} in "
                                                           f"the row of {first.mn} and {d.site_status} here"))
        elif now is not None and now[1] != d.site_status and first is d:
            problem = transition_problem(now[1], d.site_status)
            if problem:
                out.append(sheets.finding(d.mn, "site_status", f"site {d.enterprise}/{d.site}: {problem}"))
    for i, d in enumerate(devices):  # a row that left it empty follows the row that set it
        setter = given.get((d.enterprise, d.site))
        if setter is not None and d.site_status != setter.site_status:
            devices[i] = replace(d, site_status=setter.site_status)
    return out


def import_sheets(store: SqliteStore, sheets: RegistrySheets, *, scope: Scope, actor: str, origin: str,
                  sources: list[str], clock: Callable[[], float] = time.time) -> ImportResult:
    """Check ``sheets`` against the database and apply them, in one transaction (on the writer
    thread of a running platform, or in the command's own process); raises :class:`ImportRefused`
    with every finding, having changed nothing."""
    if not (sheets.devices or sheets.points or sheets.regions or sheets.cameras):
        raise ImportRefused(400, [Finding(", ".join(sources) or "the sheet", None, None, "holds no rows")])
    audited = ImportAudit(sheets, actor, origin, sources)
    devices = list(sheets.devices)  # apply_registry reads it after before_apply has filled in statuses
    statuses: dict[SiteKey, tuple[int, str]] = {}

    def before(db: sqlite3.Connection) -> None:
        findings, status = reach_findings(sheets, scope, db)
        findings += _site_statuses(sheets, devices, db)
        if findings:
            raise ImportRefused(status, findings)
        statuses.update(_stored_statuses(db, {(d.enterprise, d.site) for d in devices}))
        audited.before(db)

    def after(db: sqlite3.Connection, result: ImportResult) -> None:
        now = int(clock() * 1000)
        reason = f"registry import ({', '.join(sources)[:200]})"
        after_now = _stored_statuses(db, {(d.enterprise, d.site) for d in devices})
        for key, (site_id, status) in sorted(after_now.items()):
            was = statuses.get(key)
            if was is None or was[1] != status:
                record_change(db, site_id, was[1] if was else None, status, effective_ms=now, reason=reason,
                              actor=actor, origin=origin, at_ms=now)
        # a cameras sheet's rows last: a site the same import adds may have cameras (camera_sheet.py)
        _, camera_findings, refused = apply_cameras(db, sheets, scope, actor=actor, origin=origin, now_ms=now)
        if camera_findings:
            raise ImportRefused(refused, camera_findings)
        audited.after(db, result)

    return store.apply_registry(devices, sheets.points, sheets.regions, before_apply=before, before_commit=after)
