"""The Modbus register maps' SQL (migration 0023): functions of a sqlite3 connection.

Read by the running platform's pollers (on a reader thread at each registry change) and by
``forewarn modbus list``; written only by :mod:`forewarn.registry.modbus`, inside its transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["ModbusConnection", "ModbusMap", "ModbusRegister", "connection_of", "device_of_mn", "maps",
           "replace_map"]


@dataclass(frozen=True, slots=True)
class ModbusConnection:
    host: str
    port: int
    unit_id: int
    interval_s: int
    timeout_s: float
    retries: int


@dataclass(frozen=True, slots=True)
class ModbusRegister:
    code: str
    field: str
    address: int
    function: int
    type: str
    byte_order: str
    scale: float
    offset: float
    unit: str


@dataclass(frozen=True, slots=True)
class ModbusMap:
    """One device to poll: where, how often, and what each register means."""

    device_id: int
    mn: str
    connection: ModbusConnection
    registers: tuple[ModbusRegister, ...]


_REGISTER_COLUMNS = 'code, field, address, function, type, byte_order, scale, "offset", unit'


def maps(db: sqlite3.Connection, *, active_only: bool = True) -> list[ModbusMap]:
    """Every device with a connection and its registers (by function, then address), by MN.
    ``active_only``: only devices whose data is accepted (active, at a site not retired).

    The interval polled is the shorter of the map's and the device's: an import sets both
    alike, but a later devices sheet may give the device a shorter one, and a device polled
    less often than it is judged by would flap offline between polls."""
    where = "WHERE d.status = 'active' AND s.status != 'retired'" if active_only else ""
    devices = db.execute(
        "SELECT d.id, d.mn, c.host, c.port, c.unit_id, MIN(c.interval_s, d.interval_s), c.timeout_s, c.retries "
        f"FROM modbus_connections c JOIN devices d ON d.id = c.device_id JOIN sites s ON s.id = d.site_id {where} "
        "ORDER BY d.mn"
    ).fetchall()
    registers: dict[int, list[ModbusRegister]] = {}
    for row in db.execute(f"SELECT device_id, {_REGISTER_COLUMNS} FROM modbus_registers "
                          "ORDER BY device_id, function, address"):
        registers.setdefault(int(row[0]), []).append(ModbusRegister(*row[1:]))
    return [ModbusMap(int(d[0]), str(d[1]), ModbusConnection(*d[2:]), tuple(registers.get(int(d[0]), ())))
            for d in devices]


def device_of_mn(db: sqlite3.Connection, mn: str) -> tuple[int, str] | None:
    """A registered device's id and protocol, or None."""
    row = db.execute("SELECT id, protocol FROM devices WHERE mn = ?", (mn,)).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def connection_of(db: sqlite3.Connection, device_id: int) -> tuple[ModbusConnection | None, list[ModbusRegister]]:
    """A device's connection (None: none) and registers, as stored."""
    row = db.execute("SELECT host, port, unit_id, interval_s, timeout_s, retries FROM modbus_connections "
                     "WHERE device_id = ?", (device_id,)).fetchone()
    registers = [ModbusRegister(*r) for r in db.execute(
        f"SELECT {_REGISTER_COLUMNS} FROM modbus_registers WHERE device_id = ? ORDER BY function, address",
        (device_id,))]
    return (None if row is None else ModbusConnection(*row)), registers


def replace_map(db: sqlite3.Connection, device_id: int, connection: ModbusConnection,
                registers: list[ModbusRegister], now_ms: int) -> None:
    """Replace a device's connection and register map (in the caller's transaction). The
    device's reporting interval becomes the polling interval: a polled device is heard once per
    poll, and :mod:`forewarn.online` judges it by that interval like any other device."""
    c = connection
    db.execute(
        "INSERT INTO modbus_connections (device_id, host, port, unit_id, interval_s, timeout_s, retries, updated_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET host = excluded.host, "
        "port = excluded.port, unit_id = excluded.unit_id, interval_s = excluded.interval_s, "
        "timeout_s = excluded.timeout_s, retries = excluded.retries, updated_ms = excluded.updated_ms",
        (device_id, c.host, c.port, c.unit_id, c.interval_s, c.timeout_s, c.retries, now_ms),
    )
    db.execute("DELETE FROM modbus_registers WHERE device_id = ?", (device_id,))
    db.executemany(
        f"INSERT INTO modbus_registers (device_id, {_REGISTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(device_id, r.code, r.field, r.address, r.function, r.type, r.byte_order, r.scale, r.offset, r.unit)
         for r in registers],
    )
    db.execute("UPDATE devices SET interval_s = ? WHERE id = ?", (c.interval_s, device_id))
    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'registry_version'")
