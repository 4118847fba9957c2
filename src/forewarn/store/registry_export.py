"""The registry as its sheets (regions, devices, points), read from any connection.

``GET /api/v1/registry/export`` reads 10,000 devices and 55,600 points and writes them out as
CSV or XLSX: hundreds of milliseconds, once all on the event loop that answers devices. Taking
the connection lets the route do all of it on a reader thread, in one snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from forewarn.access.scope import Scope, scoped
from forewarn.store.base import DeviceRow, PointRow, RegionRow

__all__ = ["export_devices", "export_points", "export_regions", "export_in_scope"]


def export_regions(db: sqlite3.Connection) -> list[RegionRow]:
    rows = db.execute("SELECT code, name, COALESCE(parent_code, '') FROM regions ORDER BY code")
    return [RegionRow(*r) for r in rows]


def export_devices(db: sqlite3.Connection) -> list[DeviceRow]:
    rows = db.execute(
        "SELECT r.code, r.name, COALESCE(r.parent_code, ''), e.name, s.name, s.site_type, "
        "d.mn, s.longitude, s.latitude, d.password, d.protocol, d.interval_s, d.leniency, "
        "d.device_kind, s.status FROM devices d JOIN sites s ON s.id = d.site_id "
        "JOIN enterprises e ON e.id = s.enterprise_id "
        "LEFT JOIN regions r ON r.code = s.region_code ORDER BY r.code, e.name, s.name, d.mn"
    )
    return [
        DeviceRow(
            region_code=r[0] or "", region_name=r[1] or "", parent_region_code=r[2],
            enterprise=r[3], site=r[4], site_type=r[5], mn=r[6], longitude=r[7],
            latitude=r[8], password=r[9], protocol=r[10], interval_s=r[11], leniency=r[12],
            device_kind=r[13], site_status=r[14],
        )
        for r in rows
    ]


def export_points(db: sqlite3.Connection) -> list[PointRow]:
    rows = db.execute(
        "SELECT d.mn, p.code, p.field, p.name, p.quantity, p.unit, p.lower, p.upper, p.role, "
        "p.discovered FROM points p JOIN devices d ON d.id = p.device_id "
        "ORDER BY d.mn, p.code, p.field"
    )
    return [
        PointRow(mn=r[0], code=r[1], field=r[2], name=r[3], quantity=r[4], unit=r[5],
                 lower=r[6], upper=r[7], role=r[8], discovered=bool(r[9]))
        for r in rows
    ]


def export_in_scope(db: sqlite3.Connection, scope: Scope, sheets: Collection[str] = ("regions", "devices", "points"),
                    ) -> tuple[list[RegionRow], list[DeviceRow], list[PointRow]]:
    """The regions, devices and points a user with ``scope`` may export (the sites in it, their
    devices' points, the regions in it); only the ``sheets`` asked for are read (the others come
    back empty): the devices sheet alone need not build 55,600 points."""
    regions: list[RegionRow] = []
    devices: list[DeviceRow] = []
    points: list[PointRow] = []
    if "devices" in sheets or "points" in sheets:
        sites = {tuple(r) for r in db.execute(*scoped(
            "SELECT e.name, s.name FROM sites s JOIN enterprises e ON e.id = s.enterprise_id WHERE {scope}", scope))}
        devices = [d for d in export_devices(db) if (d.enterprise, d.site) in sites]
    if "points" in sheets:
        mns = {d.mn for d in devices}
        points = [p for p in export_points(db) if p.mn in mns]
    if "regions" in sheets:
        codes = {r[0] for r in db.execute(*scoped("SELECT r.code FROM regions r WHERE {scope}", scope,
                                                  site_alias="r", over="regions"))}
        regions = [r for r in export_regions(db) if r.code in codes]
    return regions, devices if "devices" in sheets else [], points
