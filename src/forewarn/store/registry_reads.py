"""What a running platform keeps in memory of the registry, read from any connection.

The pipeline's device cache and the rule engine's catalogue are rebuilt when the registry
changes. With 10,000 devices that is half a second of queries and object building, too long
for the event loop that answers devices; these functions take a connection so that the
rebuild can run on a reader thread (:meth:`forewarn.ingest.pipeline.Pipeline.reload_registry`),
all in one read transaction. :class:`~forewarn.store.sqlite.SqliteStore` uses the same ones.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from forewarn.access.scope import Scope, scoped
from forewarn.store.base import DeviceInfo

__all__ = [
    "catalog_rows", "device_infos", "mn_of_device", "quarantine_size", "registry_version", "rule_context",
    "rule_context_devices",
]


def registry_version(db: sqlite3.Connection) -> int:
    """The number every registry change increments (imports in other processes too)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'registry_version'").fetchone()
    return int(row[0])


def device_infos(db: sqlite3.Connection) -> dict[str, DeviceInfo]:
    """The devices whose packets are accepted, by MN."""
    rows = db.execute(  # a retired device, or one at a retired site, is no longer accepted
        "SELECT d.id, d.mn, d.password, d.interval_s, d.leniency, d.protocol FROM devices d "
        "JOIN sites s ON s.id = d.site_id WHERE d.status = 'active' AND s.status != 'retired'"
    )
    return {
        mn: DeviceInfo(id_, mn, pw, interval, frozenset(x for x in lenient.split("|") if x), proto)
        for id_, mn, pw, interval, lenient, proto in rows
    }


def rule_context_devices(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Active devices with their site, enterprise and region, as the rule catalogue holds them."""
    return db.execute(
        "SELECT d.id, d.mn, d.interval_s, d.device_kind, s.id, s.name, e.name, s.site_type, "
        "COALESCE(s.region_code, ''), COALESCE(r.name, ''), d.registered_ms FROM devices d "
        "JOIN sites s ON s.id = d.site_id JOIN enterprises e ON e.id = s.enterprise_id "
        "LEFT JOIN regions r ON r.code = s.region_code WHERE d.status = 'active'"
    ).fetchall()


def rule_context(db: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Devices with their site, enterprise and region; points with what they measure."""
    devices = rule_context_devices(db)
    points = db.execute(
        "SELECT device_id, code, field, name, quantity, unit, role, lower, upper FROM points"
    ).fetchall()
    return devices, points


def catalog_rows(db: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]]]:
    """The rule catalogue's rows: devices as in :func:`rule_context`, and each device's points as one
    JSON text ``[[code, field, name, quantity, unit, role, lower, upper], ...]`` built by SQLite.

    55,600 point rows read one by one held the GIL for over 100 ms on every registry reload
    (which the event loop waited for, whichever thread read them); as 10,000 texts built inside
    ``sqlite3_step`` (GIL released) they cost a few ms, and a rebuild compares each device's
    text with the one it was built from (``rules.loader.refresh_catalog``)."""
    devices = rule_context_devices(db)
    points = db.execute(
        "SELECT device_id, json_group_array(json_array(code, field, name, quantity, unit, role, lower, upper)) "
        "FROM points GROUP BY device_id"  # along the (device_id, code, field) key: no sort, the same order each time
    ).fetchall()
    return devices, points


def quarantine_size(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])


def mn_of_device(db: sqlite3.Connection, device_id: int) -> str | None:
    """The MN of a registered device by its id (a device token names the id)."""
    row = db.execute("SELECT mn FROM devices WHERE id = ?", (device_id,)).fetchone()
    return None if row is None else str(row[0])


def device_reach(db: sqlite3.Connection, mn: str) -> tuple[str | None, int] | None:
    """(region code, enterprise id) of the site of the registered device ``mn``: what a scope is
    checked against; None for an MN the registry does not know."""
    row = db.execute("SELECT s.region_code, s.enterprise_id FROM devices d JOIN sites s ON s.id = d.site_id "
                     "WHERE d.mn = ?", (mn,)).fetchone()
    return None if row is None else (row[0], int(row[1]))



def device_region_in_scope(db: sqlite3.Connection, scope: Scope, device_id: int) -> tuple[bool, str | None]:
    """Whether the device ``device_id`` is in ``scope`` (False for one that does not exist: the
    same to the asker), and the region code of its site."""
    row = db.execute(*scoped(
        "SELECT s.region_code FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.id = ? AND {scope}",
        scope, [device_id])).fetchone()
    return (False, None) if row is None else (True, row[0])


def site_exists(db: sqlite3.Connection, site_id: int) -> bool:
    return db.execute("SELECT 1 FROM sites WHERE id = ?", (site_id,)).fetchone() is not None
