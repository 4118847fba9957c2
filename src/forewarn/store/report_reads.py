"""The reads a report needs besides its figures: who its subject is, and the names of the
subjects of the reports on file, each scoped by the user's :class:`Scope`.

A subject outside a user's scope reads as absent (None, or left out of a list), so a
district's administrator cannot even learn the name of another district's enterprise from a
report's URL. The figures themselves come from ``forewarn.stats.figures``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from forewarn.access.scope import Scope, scoped

__all__ = ["EnterpriseSubject", "RegionSubject", "enterprise_site_ids", "enterprise_subject", "enterprises_named",
           "enterprises_wholly_in", "region_subject", "regions_named", "report_regions"]


@dataclass(frozen=True, slots=True)
class RegionSubject:
    code: str
    name: str
    parent_code: str | None
    #: regions registered directly under it (a city's districts); 0 for a district
    children: int


@dataclass(frozen=True, slots=True)
class EnterpriseSubject:
    id: int
    name: str
    region_code: str | None


def region_subject(db: sqlite3.Connection, scope: Scope, code: str) -> RegionSubject | None:
    """The region ``code`` when it is in ``scope`` (its own region or one under it)."""
    row = db.execute(*scoped(
        "SELECT r.code, r.name, NULLIF(r.parent_code, ''), "
        "(SELECT count(*) FROM regions c WHERE c.parent_code = r.code) "
        "FROM regions r WHERE r.code = ? AND {scope}", scope, [code], site_alias="r", over="regions")).fetchone()
    return None if row is None else RegionSubject(row[0], row[1], row[2], row[3])


def enterprise_subject(db: sqlite3.Connection, scope: Scope, enterprise_id: int) -> EnterpriseSubject | None:
    """The enterprise when it is in ``scope`` (registered in the district or with a site in it)."""
    row = db.execute(*scoped(
        "SELECT e.id, e.name, e.region_code FROM enterprises e WHERE e.id = ? AND {scope}",
        scope, [enterprise_id], site_alias="e", over="enterprises")).fetchone()
    return None if row is None else EnterpriseSubject(row[0], row[1], row[2])


def regions_named(db: sqlite3.Connection, scope: Scope) -> dict[str, str]:
    """Every region in ``scope``: code to name."""
    return dict(db.execute(*scoped("SELECT r.code, r.name FROM regions r WHERE {scope}", scope,
                                   site_alias="r", over="regions")).fetchall())


def enterprises_named(db: sqlite3.Connection, scope: Scope) -> dict[int, str]:
    """Every enterprise in ``scope``: id to name."""
    return dict(db.execute(*scoped("SELECT e.id, e.name FROM enterprises e WHERE {scope}", scope,
                                   site_alias="e", over="enterprises")).fetchall())


def report_regions(db: sqlite3.Connection, scope: Scope) -> list[str]:
    """The regions scheduled reports are made for by default: each region below a province
    (a city and each of its districts), so every regional administrator finds its own."""
    rows = db.execute(*scoped(
        "SELECT r.code FROM regions r WHERE {scope} AND NOT (length(r.code) = 6 AND substr(r.code, 3) = '0000') "
        "ORDER BY r.code", scope, site_alias="r", over="regions")).fetchall()
    return [code for (code,) in rows]


def enterprise_site_ids(db: sqlite3.Connection, scope: Scope, enterprise_id: int) -> set[int]:
    """The ids of the enterprise's sites in ``scope``."""
    return {i for (i,) in db.execute(*scoped("SELECT s.id FROM sites s WHERE s.enterprise_id = ? AND {scope}",
                                             scope, [enterprise_id])).fetchall()}


def enterprises_wholly_in(db: sqlite3.Connection, scope: Scope) -> set[int]:
    """The enterprises in ``scope`` with every site in it too: those whose whole report a user
    may read (a district's administrator may not read, through an enterprise's report, its
    sites in another district)."""
    inner, inner_params = scope.sites_clause("o")
    sql, params = scoped(
        "SELECT e.id FROM enterprises e WHERE {scope} AND NOT EXISTS "
        f"(SELECT 1 FROM sites o WHERE o.enterprise_id = e.id AND NOT {inner})",
        scope, inner_params, site_alias="e", over="enterprises")
    return {i for (i,) in db.execute(sql, params).fetchall()}
