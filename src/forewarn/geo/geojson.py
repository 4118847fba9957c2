"""Reading a deployer's GeoJSON file of region outlines: one outline per GB/T 2260 code.

Files come from many places (a surveying bureau's export, DataV's ``areas_v3``, echarts' map
packages), and each names a feature's region differently, so the code is looked for in the
properties ``code``, ``adcode``, ``region_code`` and ``gb`` and then in the feature's ``id``.
Every mistake is collected with the feature's number and name (a 40-feature file with three
bad features gets three lines, not the first), and nothing is imported until all are fixed.

Pure: text in, outlines out; the database check (is the code a registered region?) is the
caller's (:mod:`forewarn.geo.store`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = ["CODE_KEYS", "GeoJsonError", "Outline", "read_outlines", "simplify_ring"]

#: where a feature's GB/T 2260 code is looked for, in this order (then the feature's ``id``)
CODE_KEYS = ("code", "adcode", "region_code", "gb")
#: a division code: 6 digits (county and above), 9 (township) or 12 (village)
_CODE_LENGTHS = (6, 9, 12)
_DIGITS = 6  # ~0.1 m: more than any outline needs, and a smaller answer


class GeoJsonError(Exception):
    """A GeoJSON file that cannot be imported; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[str]) -> None:
        if len(problems) == 1:
            text = problems[0]
        else:
            shown = "\n".join(f"  {p}" for p in problems[:20])
            more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            text = f"{len(problems)} problems, nothing imported:\n{shown}{more}"
        super().__init__(text)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Outline:
    """One region's outline: its code, the name the file gives it, and its geometry as compact
    GeoJSON text (a Polygon or MultiPolygon)."""

    code: str
    name: str
    geometry: str
    #: positions in the geometry (for the audit log and the import's summary)
    positions: int
    #: the file it was read from, and where in it ("feature 3 (宜州市)"), for messages
    source: str = ""
    place: str = ""


def read_outlines(text: str | bytes, source: str = "the file", *, tolerance: float = 0.0) -> list[Outline]:
    """The outlines of a FeatureCollection (or one Feature), one per code; features with the
    same code are joined into one MultiPolygon. ``tolerance`` (degrees, 0: none) simplifies each
    ring (:func:`simplify_ring`). Raises :class:`GeoJsonError` with every mistake."""
    try:
        doc = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise GeoJsonError([f"{source} is not JSON: {exc}"]) from None
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        features: Any = [doc]
    elif isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
    else:
        raise GeoJsonError([f"{source} is not a GeoJSON FeatureCollection (its top level has no "
                            "\"type\": \"FeatureCollection\")"])
    if not isinstance(features, list) or not features:
        raise GeoJsonError([f"{source} holds no features"])
    problems: list[str] = []
    polygons: dict[str, list[Any]] = {}
    names: dict[str, str] = {}
    places: dict[str, str] = {}
    for number, feature in enumerate(features, 1):
        where = f"feature {number}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f"{where} is not a GeoJSON Feature")
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        name = str(props.get("name") or props.get("NAME") or "").strip()
        if name:
            where += f" ({name})"
        code = _code(props, feature.get("id"))
        if code is None:
            problems.append(f"{where} has no region code: give it a GB/T 2260 code in a property "
                            f"{', '.join(CODE_KEYS)} (e.g. \"code\": \"451202\")")
            continue
        if not (code.isascii() and code.isdigit() and len(code) in _CODE_LENGTHS):
            problems.append(f"{where}: {code!r} is not a GB/T 2260 code (6, 9 or 12 digits, e.g. 451202)")
            continue
        found, mistake = _polygons(feature.get("geometry"), tolerance)
        if mistake:
            problems.append(f"{where} (code {code}): {mistake}")
            continue
        polygons.setdefault(code, []).extend(found)
        names.setdefault(code, name)
        places.setdefault(code, where)
    if problems:
        raise GeoJsonError([f"{source}: {p}" for p in problems])
    outlines = []
    for code, parts in polygons.items():
        geometry = {"type": "Polygon", "coordinates": parts[0]} if len(parts) == 1 else \
            {"type": "MultiPolygon", "coordinates": parts}
        positions = sum(len(ring) for polygon in parts for ring in polygon)
        outlines.append(Outline(code, names[code], msgspec.json.encode(geometry).decode(), positions,
                                source, places[code]))
    return outlines


def _code(props: dict[str, Any], feature_id: Any) -> str | None:
    for key in CODE_KEYS:
        value = props.get(key)
        if value not in (None, ""):
            return str(value).strip()
    if feature_id not in (None, ""):
        return str(feature_id).strip()
    return None


def _polygons(geometry: Any, tolerance: float) -> tuple[list[Any], str]:
    """The geometry's polygons (each a list of rings, positions rounded), or a mistake."""
    if not isinstance(geometry, dict):
        return [], "has no geometry"
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "MultiPolygon":
        polygons = coords if isinstance(coords, list) else [None]
    else:
        return [], f"its geometry is a {kind}: an outline is a Polygon or MultiPolygon"
    out = []
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return [], "a polygon without rings"
        rings = []
        for ring in polygon:
            clean, mistake = _ring(ring)
            if mistake:
                return [], mistake
            rings.append(simplify_ring(clean, tolerance) if tolerance > 0 else clean)
        out.append(rings)
    return out, ""


def _ring(ring: Any) -> tuple[list[list[float]], str]:
    if not isinstance(ring, list) or len(ring) < 4:
        return [], "a ring with fewer than 4 positions (a closed ring repeats its first position)"
    clean = []
    for position in ring:
        if not (isinstance(position, list) and len(position) >= 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2])):
            return [], f"a position that is not [longitude, latitude]: {str(position)[:40]}"
        lon, lat = float(position[0]), float(position[1])
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            return [], (f"position [{lon}, {lat}] is not a longitude and latitude in degrees "
                        "(a projected file? export it in WGS 84 / EPSG:4326)")
        clean.append([round(lon, _DIGITS), round(lat, _DIGITS)])
    return clean, ""


def simplify_ring(ring: list[list[float]], tolerance: float) -> list[list[float]]:
    """``ring`` with the positions that lie within ``tolerance`` (degrees) of the line between
    the positions kept around them left out (Douglas-Peucker), still closed and with at least
    4 positions. A county's outline of 5,000 positions keeps a few hundred at 0.0005 degrees
    (about 50 m): what a map of a city shows, at a tenth of the bytes to send and draw."""
    if len(ring) <= 4:
        return ring
    keep = [False] * len(ring)
    keep[0] = keep[-1] = True
    # the farthest position from the first splits a closed ring (whose ends coincide) in two
    x0, y0 = ring[0]
    far = max(range(1, len(ring) - 1), key=lambda i: (ring[i][0] - x0) ** 2 + (ring[i][1] - y0) ** 2)
    keep[far] = True
    stack = [(0, far), (far, len(ring) - 1)]
    limit = tolerance * tolerance
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        (ax, ay), (bx, by) = ring[a], ring[b]
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        worst, at = -1.0, -1
        for i in range(a + 1, b):
            px, py = ring[i]
            if length == 0:
                d = (px - ax) ** 2 + (py - ay) ** 2
            else:
                t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
                d = (px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2
            if d > worst:
                worst, at = d, i
        if worst > limit:
            keep[at] = True
            stack += [(a, at), (at, b)]
    kept = [p for p, k in zip(ring, keep, strict=True) if k]
    return kept if len(kept) >= 4 else ring
