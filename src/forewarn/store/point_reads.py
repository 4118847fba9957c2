"""A point as one of a user's reads names it: what it measures, on which device and site.

Read with the user's scope beneath it, so a point outside it reads as absent (the series API
answers 404 for both, and tells nobody which points exist elsewhere).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from forewarn.access.scope import Scope, scoped

__all__ = ["ScopedPoint", "point_in_scope"]


@dataclass(frozen=True, slots=True)
class ScopedPoint:
    id: int
    mn: str
    code: str
    field: str
    name: str
    quantity: str
    unit: str
    site_id: int
    site: str


_POINT_SQL = (
    "SELECT p.id, d.mn, p.code, p.field, p.name, p.quantity, p.unit, s.id, s.name FROM points p "
    "JOIN devices d ON d.id = p.device_id JOIN sites s ON s.id = d.site_id WHERE p.id = ? AND {scope}"
)


def point_in_scope(db: sqlite3.Connection, scope: Scope, point_id: int) -> ScopedPoint | None:
    row = db.execute(*scoped(_POINT_SQL, scope, [point_id])).fetchone()
    return None if row is None else ScopedPoint(*row)
