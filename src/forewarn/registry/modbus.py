"""Modbus register maps: the one use case behind ``forewarn modbus import`` (and later the API).

A map sheet is a CSV with one row per register:
``mn, host, port, unit_id, interval_s, address, function, type, byte_order, scale, unit, code,
field`` (and optionally ``timeout_s``, ``retries``, ``offset``). A device's connection columns
(host, port, unit_id, interval_s, timeout_s, retries) are given on its first row; later rows
may leave them empty or must repeat them. Every mistake is named by row and column, and nothing
is imported until all are fixed. Each device named in the sheet has its connection and whole
map replaced (a register left out of the sheet is no longer polled), in one transaction with an
audit entry per device, before and after, like every registry change; the registry's version
moves so that a running platform's pollers pick the change up within its registry poll.

A device must already be registered (``forewarn registry import``) with protocol ``modbus``:
the map says how to read a device, the registry says where it stands.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

from forewarn.access import audit
from forewarn.access.scope import Scope
from forewarn.protocols.modbus.decode import BIT_FUNCTIONS, BYTE_ORDERS, FUNCTIONS, TYPES
from forewarn.registry.files import BAD_ID_CHARS, Finding, RegistryFileError, _csv_rows, _norm_header
from forewarn.store import modbus as sql
from forewarn.store.modbus import ModbusConnection, ModbusRegister

__all__ = ["COLUMNS", "MapSheet", "MapSummary", "import_map", "read_map_csv"]

REQUIRED = ("mn", "host", "address", "function", "type", "code")
OPTIONAL = ("port", "unit_id", "interval_s", "timeout_s", "retries", "byte_order", "scale", "offset", "unit", "field")
COLUMNS = REQUIRED + OPTIONAL
#: a device's connection, given once per device
CONNECTION_COLUMNS = ("host", "port", "unit_id", "interval_s", "timeout_s", "retries")
DEFAULTS = {"port": "502", "unit_id": "1", "interval_s": "60", "timeout_s": "3", "retries": "1",
            "byte_order": "ABCD", "scale": "1", "offset": "0", "unit": "", "field": "Rtd"}


@dataclass(slots=True)
class DeviceMap:
    """One device's connection and registers as the sheet gives them, with the row of each."""

    mn: str
    row: int
    connection: ModbusConnection
    registers: list[ModbusRegister] = field(default_factory=list)


@dataclass(slots=True)
class MapSheet:
    name: str
    devices: dict[str, DeviceMap] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MapSummary:
    devices: int
    registers: int


class _Row:
    """One row's cells, checked; each mistake noted with its column."""

    def __init__(self, name: str, number: int, cells: dict[str, str], findings: list[Finding]) -> None:
        self.name, self.number, self.cells, self.findings = name, number, cells, findings

    def bad(self, column: str, message: str) -> None:
        self.findings.append(Finding(self.name, self.number, column, f"{column}: {message}"))

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip() or DEFAULTS.get(column, "")

    def whole(self, column: str, low: int, high: int) -> int:
        value = self.text(column)
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            self.bad(column, f"{value!r} must be a whole number from {low} to {high}")
            return low
        return int(value)

    def number_(self, column: str, low: float | None = None) -> float:
        value = self.text(column)
        try:
            got = float(value)
        except ValueError:
            got = math.nan
        if not math.isfinite(got) or (low is not None and got <= low):
            self.bad(column, f"{value!r} must be a number" + (f" above {low:g}" if low is not None else ""))
            return 1.0
        return got

    def ident(self, column: str) -> str:
        value = self.text(column)
        if not value:
            self.bad(column, "is empty")
        elif BAD_ID_CHARS & set(value) or not value.isprintable() or len(value) > 64:
            self.bad(column, f"{value!r}: at most 64 printable characters, none of ; , & =")
        return value


def read_map_csv(path: Path, name: str | None = None) -> MapSheet:
    """A map sheet read and checked by itself (the database's checks come in :func:`import_map`);
    raises RegistryFileError with every finding."""
    name = name or path.name
    rows = _csv_rows(path, name)
    if not rows:
        raise RegistryFileError([Finding(name, None, None, "holds no rows")])
    header = [_norm_header(c) for c in rows[0][1]]
    findings: list[Finding] = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing or unknown:
        words = ([f"lacks column(s) {', '.join(missing)}"] if missing else []) + (
            [f"has unknown column(s) {', '.join(unknown)} (known: {', '.join(COLUMNS)})"] if unknown else [])
        raise RegistryFileError([Finding(name, 1, None, "; ".join(words))])
    sheet = MapSheet(name)
    given: dict[str, dict[str, str]] = {}  # mn -> the connection columns as first given
    seen: dict[tuple[str, str, str], int] = {}
    for number, cells in rows[1:]:
        r = _Row(name, number, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header) if h},
                 findings)
        mn = r.ident("mn")
        first = given.setdefault(mn, {c: r.text(c) for c in CONNECTION_COLUMNS})
        for column in CONNECTION_COLUMNS:
            value = r.cells.get(column, "").strip()
            if value and first is not None and value != first[column] and mn in sheet.devices:
                r.bad(column, f"{value!r} differs from {first[column]!r} on {mn}'s first row "
                              f"(row {sheet.devices[mn].row}): a device has one connection")
        if mn not in sheet.devices:
            host = r.text("host")
            if not host or any(ch.isspace() for ch in host) or len(host) > 253:
                r.bad("host", f"{host!r} is not a host name or address")
            connection = ModbusConnection(host, r.whole("port", 1, 65535), r.whole("unit_id", 0, 255),
                                          r.whole("interval_s", 1, 86400), r.number_("timeout_s", 0.0),
                                          r.whole("retries", 0, 10))
            sheet.devices[mn] = DeviceMap(mn, number, connection)
        code, field_ = r.ident("code"), r.ident("field")
        function = r.whole("function", 1, 4)
        type_name = r.text("type").lower()
        order = r.text("byte_order").upper()
        if type_name not in TYPES:
            r.bad("type", f"{type_name!r} is not one of {', '.join(TYPES)}")
        elif (function in BIT_FUNCTIONS) != (type_name == "bool"):
            r.bad("type", f"{type_name} cannot be read from {FUNCTIONS.get(function, 'function')}: coils and "
                          "discrete inputs (1, 2) are bool, holding and input registers (3, 4) are not")
        if order not in BYTE_ORDERS:
            r.bad("byte_order", f"{order!r} is not one of {', '.join(BYTE_ORDERS)}")
        address = r.whole("address", 0, 65535)
        width = TYPES[type_name].registers if type_name in TYPES else 1
        if address + width - 1 > 65535:
            r.bad("address", f"{type_name} at {address} runs past register 65535")
        key = (mn, code, field_)
        if key in seen:
            r.bad("code", f"{mn} {code}-{field_} is mapped twice (also row {seen[key]})")
        seen.setdefault(key, number)
        sheet.devices[mn].registers.append(ModbusRegister(
            code, field_, address, function, type_name, order, r.number_("scale"), r.number_("offset"),
            r.text("unit")))
    if findings:
        raise RegistryFileError(findings)
    return sheet


def _audited(connection: ModbusConnection | None, registers: list[ModbusRegister]) -> dict[str, object] | None:
    if connection is None:
        return None
    return {"connection": asdict(connection), "registers": [asdict(r) for r in registers]}


def import_map(db: sqlite3.Connection, sheet: MapSheet, *, scope: Scope, actor: str, origin: str,
               now_ms: int) -> MapSummary:
    """Replace the map of every device in ``sheet``, in the caller's transaction; raises
    RegistryFileError with every finding (a device unknown, outside the user's reach, or not a
    Modbus device), having changed nothing."""
    findings: list[Finding] = []
    targets: list[tuple[int, DeviceMap]] = []
    for mn, device in sheet.devices.items():
        found = sql.device_of_mn(db, mn)
        region = db.execute("SELECT COALESCE(s.region_code, '') FROM devices d JOIN sites s ON s.id = d.site_id "
                            "WHERE d.mn = ?", (mn,)).fetchone()
        if found is None or region is None or not scope.allows_region(region[0]):
            findings.append(Finding(sheet.name, device.row, "mn", f"mn: {mn} is not registered (in your region): "
                                    "register it first (forewarn registry import, protocol modbus)"))
        elif found[1] != "modbus":
            findings.append(Finding(sheet.name, device.row, "mn", f"mn: {mn} is registered with protocol "
                                    f"{found[1]}: register it with protocol modbus to poll it"))
        else:
            targets.append((found[0], device))
    if findings:
        raise RegistryFileError(findings)
    for device_id, device in targets:
        before = _audited(*sql.connection_of(db, device_id))
        sql.replace_map(db, device_id, device.connection, device.registers, now_ms)
        audit.record(db, actor, "import", "modbus_map", device.mn, before,
                     _audited(device.connection, device.registers), origin, at_ms=now_ms)
    return MapSummary(len(targets), sum(len(d.registers) for _, d in targets))
