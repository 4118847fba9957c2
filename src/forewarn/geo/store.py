"""Region outlines in the store: importing them (checked, audited) and reading them in scope.

An import names every feature whose code is not a registered region (nothing is written until
all are known: an outline for a region the registry lacks could never be shown to anyone, and
usually means an old code, such as 宜州市 451281 that is 宜州区 451203 since 2016). Each outline
written is one audit entry, with a summary of the geometry (positions, size, digest) rather
than the geometry itself, which would make the audit log megabytes long.

A read returns the outlines of the user's regions only (``Scope.regions_clause``: a district's
own region and those under it; an enterprise user's, the regions of its sites), already as the
bytes of one GeoJSON FeatureCollection, since the stored geometry is GeoJSON text: serving
3 MB of outlines parses nothing. Its ETag changes when outlines are imported or the registry
changes (a renamed region, an enterprise's new site), so a browser downloads them once.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass

import msgspec

from forewarn.access import audit
from forewarn.access.scope import Scope, scoped
from forewarn.access.tx import atomic
from forewarn.geo.geojson import GeoJsonError, Outline

__all__ = ["OutlineImport", "import_outlines", "outlines_etag", "regions_with_outlines", "scoped_outlines"]

_SCOPED_SQL = (
    "SELECT o.region_code, r.name, o.geometry FROM region_outlines o JOIN regions r ON r.code = o.region_code "
    "WHERE {scope} ORDER BY o.region_code"
)


@dataclass(frozen=True, slots=True)
class OutlineImport:
    added: int
    replaced: int
    positions: int


def import_outlines(db: sqlite3.Connection, outlines: list[Outline], *, actor: str, origin: str) -> OutlineImport:
    """Write the outlines (replacing a region's earlier one) in one transaction, audited, or
    raise :class:`GeoJsonError` naming every outline whose code is not a registered region."""
    known = {code for (code,) in db.execute("SELECT code FROM regions")}
    unknown = [o for o in outlines if o.code not in known]
    if unknown:
        raise GeoJsonError([
            f"{o.source}: {o.place}: code {o.code} is not a registered region; import the region first "
            "(a regions sheet: forewarn registry import) or correct the feature's code" for o in unknown
        ])
    now = int(time.time() * 1000)
    added = replaced = 0
    with atomic(db):
        for o in outlines:
            row = db.execute("SELECT geometry, source FROM region_outlines WHERE region_code = ?",
                             (o.code,)).fetchone()
            after = {**_summary(o.geometry), "positions": o.positions, "source": o.source}
            before = None if row is None else {**_summary(row[0]), "source": row[1]}
            db.execute(
                "INSERT INTO region_outlines (region_code, geometry, source, imported_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (region_code) DO UPDATE SET geometry = excluded.geometry, source = excluded.source, "
                "imported_ms = excluded.imported_ms", (o.code, o.geometry, o.source, now),
            )
            audit.record(db, actor, "import" if row is None else "update", "region_outline", o.code,
                         before, after, origin, at_ms=now)
            added += row is None
            replaced += row is not None
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'outlines_version'")
    return OutlineImport(added, replaced, sum(o.positions for o in outlines))


def regions_with_outlines(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM region_outlines").fetchone()[0])


def outlines_etag(db: sqlite3.Connection, scope: Scope) -> str:
    """The ETag of ``scope``'s outlines: it changes with every outline import and registry change."""
    versions = dict(db.execute(
        "SELECT key, value FROM meta WHERE key IN ('outlines_version', 'registry_version')").fetchall())
    key = f"{versions.get('outlines_version')}:{versions.get('registry_version')}:{scope.reach()}:" \
          f"{scope.region_prefix}:{scope.enterprise_id}"
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:24] + '"'


def scoped_outlines(db: sqlite3.Connection, scope: Scope) -> bytes:
    """The outlines of ``scope``'s regions as one GeoJSON FeatureCollection (UTF-8 bytes); each
    feature's ``id`` and ``properties.code`` are the region code, ``properties.name`` its name
    as the registry has it."""
    parts = []
    for code, name, geometry in db.execute(*scoped(_SCOPED_SQL, scope, site_alias="r", over="regions")):
        props = msgspec.json.encode({"code": code, "name": name}).decode()
        parts.append(f'{{"type":"Feature","id":{msgspec.json.encode(code).decode()},'
                     f'"properties":{props},"geometry":{geometry}}}')
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode()


def _summary(geometry: str) -> dict[str, object]:
    data = geometry.encode()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()[:16]}
