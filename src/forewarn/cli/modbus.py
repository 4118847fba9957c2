"""``forewarn modbus``: the register maps of Modbus TCP devices (import a sheet, list them).

The same use case as the API's will be (:mod:`forewarn.registry.modbus`), with the reach of
whoever holds the data directory (everything). A running server starts, restarts or stops its
pollers within its registry poll.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.bus.announce import announce_registry_change
from forewarn.cli.common import UserError, actor_name, open_store, settings_from
from forewarn.protocols.modbus.decode import FUNCTIONS
from forewarn.registry.modbus import COLUMNS, MapSummary, import_map, read_map_csv
from forewarn.store import modbus as sql

__all__ = ["add_commands"]

_ALL = Scope(Role.CITY_ADMIN)  # whoever holds the data directory reaches everything


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("modbus", help="Modbus TCP devices: their register maps")
    msub = p.add_subparsers(dest="modbus_command", metavar="ACTION", required=True)
    i = msub.add_parser("import", parents=[common], help="import register maps from a CSV",
                        description="Replace the register map of each device in the CSV (one row per register; "
                        f"columns {', '.join(COLUMNS)}). The devices must be registered with protocol modbus.")
    i.add_argument("file", type=Path, metavar="FILE.csv")
    i.add_argument("--by", help="who makes the change (default $FOREWARN_USER or the login name)")
    i.set_defaults(handler=import_cmd)
    ls = msub.add_parser("list", parents=[common], help="list the devices polled and their registers")
    ls.add_argument("--mn", help="only this device")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(handler=list_cmd)


def import_cmd(args: argparse.Namespace) -> int:
    if args.file.suffix.lower() != ".csv":
        raise UserError(f"{args.file}: a register map is a .csv file")
    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    sheet = read_map_csv(args.file)
    settings = settings_from(args)
    box: list[MapSummary] = []
    with open_store(settings) as store:
        store.run_in_transaction(lambda db: box.append(import_map(
            db, sheet, scope=_ALL, actor=actor_name(args.by), origin="cli", now_ms=int(time.time() * 1000))))
        announce_registry_change(settings, store.registry_version)  # the pollers follow the registry
    print(f"imported the register maps of {box[0].devices} device(s), {box[0].registers} register(s)")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        found = [m for m in sql.maps(store.db, active_only=False) if args.mn in (None, m.mn)]
    if args.format == "json":
        print(json.dumps([asdict(m) for m in found], ensure_ascii=False, indent=2))
        return 0
    for m in found:
        c = m.connection
        print(f"{m.mn}  {c.host}:{c.port} unit {c.unit_id}  every {c.interval_s} s  timeout {c.timeout_s:g} s  "
              f"retries {c.retries}")
        for r in m.registers:
            scaled = "" if (r.scale, r.offset) == (1.0, 0.0) else f" *{r.scale:g}{r.offset:+g}"
            print(f"  {r.code}-{r.field}  {FUNCTIONS[r.function]} {r.address}  {r.type} {r.byte_order}{scaled}"
                  f"{'  ' + r.unit if r.unit else ''}")
    if not found:
        print("no Modbus devices (forewarn modbus import FILE.csv)", file=sys.stderr)
    return 0
