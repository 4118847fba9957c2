"""The audit log of a registry import: each region, device and point it changed, before and after.

An import is one transaction over many rows; a reviewer asking "who moved this site, and from
where" needs the row, not a count. :class:`ImportAudit` takes a snapshot of every entity the
sheets name before the import and compares it after, inside the same transaction, writing one
audit entry per entity that changed (a device carries its site, enterprise and region, since a
sheet row changes them together). A device's password is never written: a change shows as
``(changed)``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from typing import Any

from forewarn.access import audit
from forewarn.registry.files import RegistrySheets
from forewarn.store.base import ImportResult

__all__ = ["ImportAudit"]

_DEVICE_SQL = (
    "SELECT d.mn, e.name AS enterprise, s.name AS site, s.site_type, s.region_code, s.longitude, s.latitude, "
    "s.status AS site_status, d.protocol, d.interval_s, d.leniency, d.device_kind, d.status, d.password "
    "FROM devices d JOIN sites s ON s.id = d.site_id JOIN enterprises e ON e.id = s.enterprise_id WHERE d.mn = ?"
)
_POINT_SQL = (
    "SELECT p.name, p.quantity, p.unit, p.lower, p.upper, p.role, p.discovered, p.status FROM points p "
    "JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND p.code = ? AND p.field = ?"
)
_REGION_SQL = "SELECT code, name, parent_code, status FROM regions WHERE code = ?"
_ENTERPRISE_SQL = "SELECT id, name, region_code, status FROM enterprises WHERE name = ?"

Key = tuple[str, str]


def _row(db: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> dict[str, Any] | None:
    cur = db.execute(sql, args)
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))


class ImportAudit:
    """``before(db)`` then, after the import in the same transaction, ``after(db, result)``."""

    def __init__(self, sheets: RegistrySheets, actor: str, origin: str, files: list[str]) -> None:
        self.sheets = sheets
        self.actor = actor
        self.origin = origin
        self.files = files
        self._before: dict[Key, dict[str, Any] | None] = {}

    def _snapshot(self, db: sqlite3.Connection) -> dict[Key, dict[str, Any] | None]:
        out: dict[Key, dict[str, Any] | None] = {}
        codes = {r.code for r in self.sheets.regions} | {d.region_code for d in self.sheets.devices}
        for code in sorted(codes):
            out[("region", code)] = _row(db, _REGION_SQL, (code,))
        for name in sorted({d.enterprise for d in self.sheets.devices}):
            out[("enterprise", name)] = _row(db, _ENTERPRISE_SQL, (name,))
        for d in self.sheets.devices:
            out[("device", d.mn)] = _row(db, _DEVICE_SQL, (d.mn,))
        for p in self.sheets.points:
            out[("point", f"{p.mn}/{p.code}-{p.field}")] = _row(db, _POINT_SQL, (p.mn, p.code, p.field))
        return out

    def before(self, db: sqlite3.Connection) -> None:
        self._before = self._snapshot(db)

    def after(self, db: sqlite3.Connection, result: ImportResult) -> None:
        changed = 0
        for key, now in self._snapshot(db).items():
            was = self._before.get(key)
            if now == was:
                continue
            changed += 1
            was_public, now_public = _public(was), _public(now)
            if now_public is not None and was is not None and now is not None \
                    and was.get("password") != now.get("password"):
                now_public["password"] = "(changed)"
            entity_id = (now or was or {}).get("id", key[1]) if key[0] == "enterprise" else key[1]
            audit.record(db, self.actor, f"{key[0]}.import", key[0], entity_id, was_public, now_public, self.origin)
        audit.record(db, self.actor, "registry.import", "registry", "import", None,
                     {"files": self.files, "entities_changed": changed, **asdict(result)}, self.origin)


def _public(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {k: v for k, v in row.items() if k != "password"}

