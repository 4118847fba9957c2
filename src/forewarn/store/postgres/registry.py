"""The registry on PostgreSQL: the import (regions, enterprises, sites, devices, points in one
transaction) and what a running platform reads of it.

The import follows :meth:`forewarn.store.sqlite.SqliteStore.apply_registry` statement for
statement (natural keys, the same upserts, the same counts), but sends each sheet as one
``executemany`` in pipeline mode: a round trip to the server costs what a whole SQLite
statement does, and 10,000 devices with 55,600 points one by one would take seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from forewarn.catalogue import Catalogue
from forewarn.store.base import DeviceInfo, DeviceRow, ImportResult, PointRow, RegionRow

__all__ = [
    "apply_registry", "device_infos", "export_devices", "export_points", "export_regions", "registry_version",
    "rule_context",
]

Conn = psycopg.Connection[Any]


class RegistryError(Exception):
    """A row of the import cannot be stored (a point of a device that is not registered)."""


def _returned(cur: psycopg.Cursor[Any]) -> list[Any]:
    """The first column of each result of an ``executemany(..., returning=True)``."""
    out = []
    while True:
        row = cur.fetchone()
        out.append(row[0] if row is not None else None)
        if not cur.nextset():
            return out


def apply_registry(
    conn: Conn, catalogue: Catalogue, devices: list[DeviceRow], points: list[PointRow],
    regions: list[RegionRow] | None,
    before_apply: Callable[[Conn], None] | None, before_commit: Callable[[Conn, ImportResult], None] | None,
) -> ImportResult:
    """Upsert the sheets inside the caller's transaction on ``conn``; see SqliteStore.apply_registry."""
    result = ImportResult()
    now = int(time.time() * 1000)
    if before_apply is not None:
        before_apply(conn)
    named: dict[str, tuple[str, str]] = {r.code: (r.name, r.parent_code) for r in regions or []}
    for d in devices:
        named[d.region_code] = (d.region_name, d.parent_region_code)
    with conn.cursor() as cur:
        if named:
            cur.executemany(
                "INSERT INTO regions (code, name, parent_code) VALUES (%s, %s, %s) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, "
                "parent_code = COALESCE(NULLIF(EXCLUDED.parent_code, ''), regions.parent_code)",
                [(code, name, parent or None) for code, (name, parent) in named.items()],
            )
            result.regions = len(named)
        enterprises = list(dict.fromkeys(d.enterprise for d in devices))
        region_of: dict[str, str] = {}
        for d in devices:
            region_of.setdefault(d.enterprise, d.region_code)
        enterprise_ids: dict[str, int] = {}
        if enterprises:
            # an enterprise's region is set when it is created, never changed by an import
            cur.executemany(
                "INSERT INTO enterprises (name, region_code) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
                [(name, region_of[name]) for name in enterprises],
                returning=True,
            )
            enterprise_ids = dict(zip(enterprises, (int(i) for i in _returned(cur)), strict=True))
            result.enterprises = len(enterprises)
        first_of_site: dict[tuple[str, str], DeviceRow] = {}
        for d in devices:
            first_of_site.setdefault((d.enterprise, d.site), d)
        site_ids: dict[tuple[str, str], int] = {}
        if first_of_site:
            cur.executemany(
                "INSERT INTO sites (enterprise_id, name, site_type, region_code, longitude, latitude, status) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (enterprise_id, name) DO UPDATE SET "
                "site_type = EXCLUDED.site_type, region_code = EXCLUDED.region_code, "
                "longitude = EXCLUDED.longitude, latitude = EXCLUDED.latitude, status = EXCLUDED.status RETURNING id",
                [(enterprise_ids[d.enterprise], d.site, d.site_type, d.region_code, d.longitude, d.latitude,
                  d.site_status) for d in first_of_site.values()],
                returning=True,
            )
            site_ids = dict(zip(first_of_site, (int(i) for i in _returned(cur)), strict=True))
            result.sites = len(first_of_site)
        if devices:
            existing = {row[0] for row in cur.execute(
                "SELECT mn FROM devices WHERE mn = ANY(%s)", ([d.mn for d in devices],)).fetchall()}
            cur.executemany(
                "INSERT INTO devices (mn, site_id, protocol, password, interval_s, leniency, device_kind, "
                "registered_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (mn) DO UPDATE SET site_id = EXCLUDED.site_id, protocol = EXCLUDED.protocol, "
                "password = EXCLUDED.password, interval_s = EXCLUDED.interval_s, leniency = EXCLUDED.leniency, "
                "device_kind = EXCLUDED.device_kind",
                [(d.mn, site_ids[(d.enterprise, d.site)], d.protocol, d.password, d.interval_s, d.leniency,
                  d.device_kind, now) for d in devices],
            )
            for d in devices:  # a MN twice in one sheet: added once, then updated, as on SQLite
                if d.mn in existing:
                    result.devices_updated += 1
                else:
                    result.devices_added += 1
                    existing.add(d.mn)
        if points:
            device_ids = dict(cur.execute(
                "SELECT mn, id FROM devices WHERE mn = ANY(%s)", (list({p.mn for p in points}),)).fetchall())
            args = []
            for p in points:
                if p.mn not in device_ids:
                    raise RegistryError(f"point {p.code}-{p.field}: device {p.mn} is not registered")
                template = catalogue.point_template(p.code, p.field)
                args.append((device_ids[p.mn], p.code, p.field, p.name or template.name_zh,
                             p.quantity or template.quantity, p.unit or template.unit, p.lower, p.upper, p.role,
                             now))
            cur.executemany(
                "INSERT INTO points (device_id, code, field, name, quantity, unit, lower, upper, role, discovered, "
                "created_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s) "
                "ON CONFLICT (device_id, code, field) DO UPDATE SET name = EXCLUDED.name, "
                "quantity = EXCLUDED.quantity, unit = EXCLUDED.unit, lower = EXCLUDED.lower, "
                "upper = EXCLUDED.upper, role = EXCLUDED.role, discovered = 0 "
                # xmax is 0 on a row this statement inserted (an updated row version carries the
                # updating transaction's id): created_ms would count a second import within the
                # same millisecond as adding its points
                "RETURNING (xmax = 0)",
                args,
                returning=True,
            )
            for added in _returned(cur):
                if added:
                    result.points_added += 1
                else:
                    result.points_updated += 1
        cur.execute("UPDATE meta SET value = (CAST(value AS BIGINT) + 1)::TEXT WHERE key = 'registry_version'")
    if before_commit is not None:
        before_commit(conn, result)
    return result


def registry_version(conn: Conn) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'registry_version'").fetchone()
    return int(row[0]) if row else 0


def device_infos(conn: Conn) -> dict[str, DeviceInfo]:
    """The devices whose packets are accepted (active, at a site not retired), by MN."""
    rows = conn.execute(
        "SELECT d.id, d.mn, d.password, d.interval_s, d.leniency, d.protocol FROM devices d "
        "JOIN sites s ON s.id = d.site_id WHERE d.status = 'active' AND s.status != 'retired'"
    ).fetchall()
    return {
        mn: DeviceInfo(int(id_), mn, pw, int(interval), frozenset(x for x in lenient.split("|") if x), proto)
        for id_, mn, pw, interval, lenient, proto in rows
    }


def rule_context(conn: Conn) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Active devices with their site, enterprise and region; points with what they measure."""
    devices = conn.execute(
        "SELECT d.id, d.mn, d.interval_s, d.device_kind, s.id, s.name, e.name, s.site_type, "
        "COALESCE(s.region_code, ''), COALESCE(r.name, ''), d.registered_ms FROM devices d "
        "JOIN sites s ON s.id = d.site_id JOIN enterprises e ON e.id = s.enterprise_id "
        "LEFT JOIN regions r ON r.code = s.region_code WHERE d.status = 'active'"
    ).fetchall()
    points = conn.execute(
        "SELECT device_id, code, field, name, quantity, unit, role, lower, upper FROM points"
    ).fetchall()
    return devices, points


def export_regions(conn: Conn) -> list[RegionRow]:
    rows = conn.execute("SELECT code, name, COALESCE(parent_code, '') FROM regions ORDER BY code").fetchall()
    return [RegionRow(*r) for r in rows]


def export_devices(conn: Conn) -> list[DeviceRow]:
    rows = conn.execute(
        "SELECT r.code, r.name, COALESCE(r.parent_code, ''), e.name, s.name, s.site_type, "
        "d.mn, s.longitude, s.latitude, d.password, d.protocol, d.interval_s, d.leniency, "
        "d.device_kind, s.status FROM devices d JOIN sites s ON s.id = d.site_id "
        "JOIN enterprises e ON e.id = s.enterprise_id "
        "LEFT JOIN regions r ON r.code = s.region_code ORDER BY r.code, e.name, s.name, d.mn"
    ).fetchall()
    return [
        DeviceRow(
            region_code=r[0] or "", region_name=r[1] or "", parent_region_code=r[2],
            enterprise=r[3], site=r[4], site_type=r[5], mn=r[6], longitude=r[7],
            latitude=r[8], password=r[9], protocol=r[10], interval_s=r[11], leniency=r[12],
            device_kind=r[13], site_status=r[14],
        )
        for r in rows
    ]


def export_points(conn: Conn) -> list[PointRow]:
    rows = conn.execute(
        "SELECT d.mn, p.code, p.field, p.name, p.quantity, p.unit, p.lower, p.upper, p.role, "
        "p.discovered FROM points p JOIN devices d ON d.id = p.device_id "
        "ORDER BY d.mn, p.code, p.field"
    ).fetchall()
    return [
        PointRow(mn=r[0], code=r[1], field=r[2], name=r[3], quantity=r[4], unit=r[5],
                 lower=r[6], upper=r[7], role=r[8], discovered=bool(r[9]))
        for r in rows
    ]
