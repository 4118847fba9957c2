"""Latest values: the newest reading of every active point of a site, or of every site of a
region, as far as a scope reaches. One row per point; each point's newest reading is one index
seek (``MAX(ts)`` on the ``(point_id, ts)`` key). Run on a reader thread: a region's page takes
tens of milliseconds with 10,000 devices."""

from __future__ import annotations

import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.access.scope import Scope, region_prefix, scoped
from forewarn.model import Kind
from forewarn.times import iso

__all__ = ["LatestPage", "region_latest", "site_latest"]

#: (columns, rows as dicts, how many in all)
LatestPage = tuple[list[str], list[dict[str, Any]], int]


def _latest_sql(kind: Kind) -> str:
    table = f"readings_{kind.value}"
    return (
        "SELECT s.id AS site_id, s.name AS site, e.name AS enterprise, s.region_code, d.mn, p.id AS point_id, "
        "p.code, p.field, p.name, p.quantity, p.unit, r.ts, r.value, r.flag FROM points p "
        "JOIN devices d ON d.id = p.device_id JOIN sites s ON s.id = d.site_id "
        "JOIN enterprises e ON e.id = s.enterprise_id "
        f"JOIN {table} r ON r.point_id = p.id AND r.ts = (SELECT MAX(ts) FROM {table} WHERE point_id = p.id) "
        "WHERE {scope} AND p.status = 'active' AND d.status = 'active' AND "
    )


def _page(db: sqlite3.Connection, scope: Scope, sql: str, params: list[object], limit: int, offset: int,
          tz: ZoneInfo) -> LatestPage:
    query = scoped(sql, scope, params)
    total = int(db.execute(f"SELECT COUNT(*) FROM ({query.sql})", query.params).fetchone()[0])
    cur = db.execute(f"{query.sql} ORDER BY s.id, d.mn, p.code, p.field LIMIT ? OFFSET ?",
                     [*query.params, limit, offset])
    columns = [c[0] for c in cur.description]
    items = []
    for row in cur:
        item = dict(zip(columns, row, strict=True))
        item["ts"] = iso(item["ts"], tz)
        items.append(item)
    return columns, items, total


def site_latest(db: sqlite3.Connection, scope: Scope, site_id: int, kind: Kind, limit: int, offset: int,
                tz: ZoneInfo) -> LatestPage | None:
    """The site's page of latest values; None when the site is not in the scope."""
    if db.execute(*scoped("SELECT 1 FROM sites s WHERE s.id = ? AND {scope}", scope, [site_id])).fetchone() is None:
        return None
    return _page(db, scope, _latest_sql(kind) + "s.id = ?", [site_id], limit, offset, tz)


def region_latest(db: sqlite3.Connection, scope: Scope, code: str, kind: Kind, limit: int, offset: int,
                  tz: ZoneInfo) -> LatestPage | None:
    """The region's (and the regions under it) latest values as far as the scope reaches; None
    when neither the region nor any site under it is in the scope."""
    prefix = region_prefix(code)
    region = scoped("SELECT 1 FROM regions r WHERE r.code = ? AND {scope}", scope, [code],
                    site_alias="r", over="regions")
    sites = scoped("SELECT 1 FROM sites s WHERE substr(COALESCE(s.region_code, ''), 1, ?) = ? AND {scope} LIMIT 1",
                   scope, [len(prefix), prefix])
    if db.execute(*region).fetchone() is None and db.execute(*sites).fetchone() is None:
        return None
    return _page(db, scope, _latest_sql(kind) + "substr(COALESCE(s.region_code, ''), 1, ?) = ?",
                 [len(prefix), prefix], limit, offset, tz)
