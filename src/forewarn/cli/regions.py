"""``forewarn regions``: the outlines the dashboard's map draws the sites over."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from forewarn.cli.common import UserError, actor_name, open_store, settings_from
from forewarn.config import Settings
from forewarn.geo.geojson import CODE_KEYS, GeoJsonError, Outline, read_outlines
from forewarn.geo.store import OutlineImport, import_outlines, regions_with_outlines

__all__ = ["add_commands", "import_geojson_files", "import_demo_outlines"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("regions", help="region outlines for the dashboard's map")
    rsub = p.add_subparsers(dest="regions_command", metavar="ACTION", required=True)
    i = rsub.add_parser(
        "import-geojson", parents=[common], help="import region outlines from GeoJSON files",
        description="Import region outlines (Polygon or MultiPolygon features, longitude/latitude in the "
        "datum of the sites' coordinates) keyed by GB/T 2260 code in a property "
        f"({', '.join(CODE_KEYS)}) or the feature's id. Every region must be registered first "
        "(forewarn registry import). A region's earlier outline is replaced; every change is audited.",
    )
    i.add_argument("files", nargs="+", type=Path, metavar="FILE")
    i.set_defaults(handler=import_geojson_cmd)


def import_geojson_files(settings: Settings, files: list[Path], *, actor: str, origin: str = "cli") -> OutlineImport:
    """Read every file, then import all outlines in one transaction (nothing when any has a mistake)."""
    outlines: list[Outline] = []
    problems: list[str] = []
    for path in files:
        try:
            outlines += read_outlines(path.read_bytes(), path.name)
        except GeoJsonError as exc:
            problems += exc.problems
    first: dict[str, Outline] = {}
    for o in outlines:
        other = first.setdefault(o.code, o)
        if other is not o:
            problems.append(f"{o.source}: {o.place}: region {o.code} also has an outline in {other.source} "
                            f"({other.place}): keep one")
    if problems:
        raise GeoJsonError(problems)
    with open_store(settings, create=True) as store:
        return import_outlines(store.db, outlines, actor=actor, origin=origin)


def import_demo_outlines(settings: Settings, files: list[Path]) -> OutlineImport | None:
    """The demo's outlines, on a first run only: None when some region already has an outline
    (the deployer's own are never replaced) or there are no files (set-up did not convert them)."""
    if not files:
        return None
    with open_store(settings, create=True) as store:
        if regions_with_outlines(store.db):
            return None
    return import_geojson_files(settings, files, actor="forewarn demo", origin="demo")


def import_geojson_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        result = import_geojson_files(settings, list(args.files), actor=actor_name())
    except GeoJsonError as exc:
        raise UserError(str(exc)) from None
    print(f"imported outlines: {result.added} regions added, {result.replaced} replaced "
          f"({result.positions} positions)")
    return 0
