"""``forewarn registry``: import and export the registry sheets, list points."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.bus.announce import announce_registry_change
from forewarn.catalogue import Catalogue
from forewarn.cli.common import UserError, actor_name, open_store, parse_time, settings_from
from forewarn.config import Settings
from forewarn.ingest.claim import ClaimCounts, OfflinePort, claim_quarantined
from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.registry.files import (
    RegistryFileError,
    RegistrySheets,
    read_registry_files,
    write_devices_csv,
    write_points_csv,
    write_regions_csv,
    write_xlsx,
)
from forewarn.registry.imports import ImportRefused, import_sheets
from forewarn.registry.lifecycle import LifecycleError, SiteLifecycle, change_site_status, site_lifecycle
from forewarn.store.base import ImportResult

__all__ = ["add_commands", "import_files"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("registry", help="regions, enterprises, sites, devices and points")
    rsub = p.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    i = rsub.add_parser(
        "import", parents=[common], help="import regions, devices and points from CSV or XLSX files",
        description="Import regions (columns region_code, region_name, parent_region_code), "
        "devices (columns region_code, region_name, enterprise, site, "
        "site_type, longitude, latitude, mn, password, and optionally parent_region_code, "
        "protocol, interval_s, leniency, device_kind, site_status) and points (mn, code, "
        "field, and optionally name, quantity, unit, lower, upper, role). Re-importing "
        "updates rows; nothing is duplicated.",
    )
    i.add_argument("files", nargs="+", type=Path, metavar="FILE")
    i.set_defaults(handler=import_cmd)

    e = rsub.add_parser("export", parents=[common], help="export the registry")
    e.add_argument("--format", default="csv", choices=["csv", "xlsx"])
    what = e.add_mutually_exclusive_group()
    what.add_argument("--points", action="store_true", help="export points instead of devices (csv)")
    what.add_argument("--regions", action="store_true", help="export regions instead of devices (csv)")
    e.add_argument("-o", "--output", type=Path, help="file to write (required for xlsx)")
    e.set_defaults(handler=export_cmd)

    pts = rsub.add_parser("points", parents=[common], help="list points")
    pts.add_argument("--mn", help="only this device")
    pts.add_argument("--discovered", action="store_true",
                     help="only points created from data the registry did not list")
    pts.set_defaults(handler=points_cmd)

    st = rsub.add_parser(
        "site-status", parents=[common], help="change a site's status (its lifecycle), with a reason",
        description="Move a site to new, active, maintenance, stopped or retired, as the lifecycle allows; "
        "the change is kept in the site's history with its date and reason, and audited. "
        "Without STATUS: the site's status and history.",
    )
    st.add_argument("site_id", type=int, metavar="SITE_ID")
    st.add_argument("status", nargs="?", metavar="STATUS", help="new, active, maintenance, stopped or retired")
    st.add_argument("--reason", help="why (required for a change)")
    st.add_argument("--effective", metavar="ISO", help="when it took effect (date or time; default now)")
    st.add_argument("--by", help="who makes the change (default $FOREWARN_USER or the login name)")
    st.set_defaults(handler=site_status_cmd)


def import_files(settings: Settings, files: list[Path]) -> tuple[ImportResult, ClaimCounts]:
    """Import registry files in one transaction (the import use case, as the API's, with the reach
    of whoever holds the data directory: everything) and claim any quarantined data they free."""
    sheets = read_registry_files(files, Catalogue())
    with open_store(settings, create=True) as store:
        try:
            result = import_sheets(store, sheets, scope=Scope(Role.CITY_ADMIN), actor=actor_name(), origin="cli",
                                   sources=[str(f) for f in files])
        except ImportRefused as exc:
            raise RegistryFileError(exc.findings) from None
        handler = Hj212Handler(OfflinePort(), settings.tz, future_tolerance_s=settings.future_tolerance_s,
                                strict=bool(settings.hj212_strict))
        claimed = claim_quarantined(store, handler, store.device_infos())
    return result, claimed


def import_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    result, claimed = import_files(settings, list(args.files))
    announce_registry_change(settings, lambda: _registry_version(settings))
    print(
        f"imported: {result.regions} regions, {result.enterprises} enterprises, "
        f"{result.sites} sites, {result.devices_added} devices added, "
        f"{result.devices_updated} updated, {result.points_added} points added, "
        f"{result.points_updated} updated"
    )
    if claimed.claimed:
        print(f"{claimed.claimed} quarantined packets of registered devices are now stored as readings")
    if claimed.refused:
        print(f"{claimed.refused} quarantined packets of registered devices are still refused "
              "(see 'forewarn devices unknown'); they are kept until the registry is corrected")
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        sheets = RegistrySheets(store.export_regions(), store.export_devices(), store.export_points())
    if args.format == "xlsx":
        if args.output is None or args.output.suffix.lower() != ".xlsx":
            raise UserError("--format xlsx needs --output FILE.xlsx")
        if args.points or args.regions:
            raise UserError("an xlsx export holds every sheet; drop --points/--regions")
        write_xlsx(args.output, sheets)
        print(f"wrote {len(sheets.regions)} regions, {len(sheets.devices)} devices and "
              f"{len(sheets.points)} points to {args.output}")
        return 0

    def write(out: TextIO) -> None:
        if args.points:
            write_points_csv(out, sheets.points)
        elif args.regions:
            write_regions_csv(out, sheets.regions)
        else:
            write_devices_csv(out, sheets.devices)

    if args.output is None:
        write(sys.stdout)
    else:
        with args.output.open("w", encoding="utf-8", newline="") as out:
            write(out)
    return 0


def points_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        points = [
            p for p in store.export_points()
            if (args.mn is None or p.mn == args.mn) and (not args.discovered or p.discovered)
        ]
    for p in points:
        mark = "  (discovered)" if p.discovered else ""
        print(f"{p.mn:<26} {p.code + '-' + p.field:<18} {p.name} [{p.quantity}, {p.unit}]{mark}")
    if not points:
        print("no points")
    return 0


def site_status_cmd(args: argparse.Namespace) -> int:
    """The site lifecycle's use case from the command line (the API's and the dashboard's too)."""
    settings = settings_from(args)
    tz = settings.tz
    scope = Scope(Role.CITY_ADMIN)  # whoever holds the data directory reaches everything
    with open_store(settings) as store:
        if args.status is None:
            state = site_lifecycle(store.db, args.site_id, scope, tz)
        else:
            effective = parse_time(args.effective, tz, "--effective")
            box: list[SiteLifecycle] = []
            try:
                store.run_in_transaction(lambda db: box.append(change_site_status(
                    db, args.site_id, args.status, reason=args.reason or "", effective_ms=effective, scope=scope,
                    actor=actor_name(args.by), origin="cli", now_ms=int(time.time() * 1000), tz=tz)))
            except LifecycleError as exc:
                raise UserError(exc.message) from None
            state = box[0]
            announce_registry_change(settings, store.registry_version)
    if state is None:
        raise UserError(f"no site {args.site_id} (see 'forewarn registry export')")
    since = f" since {state.since}" if state.since else ""
    print(f"site {state.site_id} {state.enterprise} / {state.site}: {state.status}{since}")
    for c in state.changes:
        print(f"  {c.effective}  {c.previous or '-'} -> {c.status}  {c.reason}  ({c.actor}, {c.origin})")
    return 0


def _registry_version(settings: Settings) -> int:
    with open_store(settings) as store:
        return store.registry_version()
