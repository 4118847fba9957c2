"""Scope beneath every query: each role sees exactly its sites, in a real SQLite registry."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.access import Action, Role, Scope, scoped
from forewarn.access.scope import region_prefix
from forewarn.catalogue import Catalogue
from forewarn.store.sqlite import SqliteStore

REGIONS = [
    ("450000", "广西壮族自治区", None),
    ("451200", "河池市", "450000"),
    ("451202", "金城江区", "451200"),
    ("451221", "南丹县", "451200"),
    ("140000", "山西省", None),
    ("140200", "大同市", "140000"),
    ("140212", "新荣区", "140200"),
    ("140213", "平城区", "140200"),
]
ENTERPRISES = [
    (1, "河池燃气", "451202"),
    (2, "南丹燃气", "451221"),
    (3, "大同水泥", "140212"),
    (4, "平城餐饮", "140213"),
]
SITES = [  # id, enterprise, name, region (a site's region need not be its enterprise's)
    (1, 1, "金城江储配站", "451202"),
    (2, 1, "南丹加气站", "451221"),
    (3, 2, "一号站", "451221"),
    (4, 3, "厂区", "140212"),
    (5, 4, "后厨", "140213"),
    (6, 3, "未定区划工地", None),
    (7, 2, "市级储备站", "451200"),
]
ALL = {s[0] for s in SITES}


def make_registry(path: Path) -> SqliteStore:
    """A store (all migrations applied) holding two cities, their districts, enterprises, sites, devices."""
    store = SqliteStore(path, Catalogue())
    db = store.db
    db.executemany("INSERT INTO regions (code, name, parent_code) VALUES (?, ?, ?)", REGIONS)
    db.executemany("INSERT INTO enterprises (id, name, region_code) VALUES (?, ?, ?)", ENTERPRISES)
    db.executemany(
        "INSERT INTO sites (id, enterprise_id, name, site_type, region_code) VALUES (?, ?, ?, 'factory', ?)", SITES
    )
    db.executemany(
        "INSERT INTO devices (id, mn, site_id, registered_ms) VALUES (?, ?, ?, 0)",
        [(s[0], f"MN{s[0]:022d}", s[0]) for s in SITES],
    )
    return store


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    store = make_registry(tmp_path / "forewarn.db")
    yield store.db
    store.close()


def visible_sites(db: sqlite3.Connection, scope: Scope) -> set[int]:
    return {r[0] for r in db.execute(*scoped("SELECT s.id FROM sites s WHERE {scope}", scope))}


def visible_devices(db: sqlite3.Connection, scope: Scope) -> set[int]:
    sql, params = scoped(
        "SELECT d.id FROM devices d JOIN sites x ON x.id = d.site_id WHERE d.status = ? AND {scope} AND d.id > ?",
        scope, ["active", 0], site_alias="x",
    )
    return {r[0] for r in db.execute(sql, params)}


CASES = [
    (Scope(Role.CITY_ADMIN), ALL),
    (Scope.for_user(Role.DISTRICT_ADMIN, "451200", None), {1, 2, 3, 7}),
    (Scope.for_user(Role.DISTRICT_ADMIN, "451221", None), {2, 3}),
    (Scope.for_user(Role.DISTRICT_ADMIN, "451202", None), {1}),
    (Scope.for_user(Role.DISTRICT_ADMIN, "140200", None), {4, 5}),
    (Scope.for_user(Role.DISTRICT_ADMIN, "140213", None), {5}),
    (Scope.for_user(Role.DISTRICT_ADMIN, "450000", None), {1, 2, 3, 7}),
    (Scope.for_user(Role.ENTERPRISE_USER, None, 1), {1, 2}),
    (Scope.for_user(Role.ENTERPRISE_USER, None, 3), {4, 6}),
    (Scope.for_user(Role.ENTERPRISE_USER, None, 99), set()),
    (Scope.for_user(Role.AUDITOR, "451202", None), {1}),
    (Scope.for_user(Role.AUDITOR, "140200", None), {4, 5}),
    (Scope.for_user(Role.AUDITOR, None, None), ALL),
    (Scope.for_user(Role.DEVICE, None, None), set()),
]


@pytest.mark.parametrize(("scope", "expected"), CASES, ids=[f"{c[0]}" for c in CASES])
def test_each_scope_sees_exactly_its_sites(db: sqlite3.Connection, scope: Scope, expected: set[int]) -> None:
    assert visible_sites(db, scope) == expected
    assert visible_devices(db, scope) == expected  # the same through a join, another alias, params around it
    by_object = {
        site_id for site_id, enterprise_id, region in
        db.execute("SELECT id, enterprise_id, region_code FROM sites")
        if scope.allows_site(region, enterprise_id)
    }
    assert by_object == expected  # allows_site() agrees with the clause, site by site


def test_a_district_never_sees_the_other_city_nor_a_sibling_district(db: sqlite3.Connection) -> None:
    nandan = Scope.for_user(Role.DISTRICT_ADMIN, "451221", None)
    assert not nandan.allows_site("451202", 1)   # sibling district, same city
    assert not nandan.allows_site("451200", 2)   # the city level above it
    assert not nandan.allows_site("140212", 3)   # the other city
    assert not nandan.allows_site(None, 3)       # a site without a region
    assert nandan.allows_site("451221", 1)


def test_region_prefixes_follow_gb_t_2260_levels() -> None:
    assert region_prefix("451200") == "4512"
    assert region_prefix("451221") == "451221"
    assert region_prefix("450000") == "45"
    assert region_prefix("140200") == "1402"
    assert region_prefix("451221100000") == "451221100"   # a township
    assert region_prefix("451221101000") == "451221101"
    assert region_prefix("451200000000") == "4512"
    assert region_prefix("A1") == "A1"


def test_scoped_refuses_sql_without_exactly_one_placeholder() -> None:
    city = Scope(Role.CITY_ADMIN)
    with pytest.raises(ValueError, match="exactly one"):
        scoped("SELECT s.id FROM sites s", city)
    with pytest.raises(ValueError, match="exactly one"):
        scoped("SELECT s.id FROM sites s WHERE {scope} OR {scope}", city)
    with pytest.raises(ValueError, match="parameters"):
        scoped("SELECT s.id FROM sites s WHERE {scope} AND s.id = ?", city)
    with pytest.raises(ValueError, match="alias"):
        Scope(Role.CITY_ADMIN).sites_clause("s; DROP TABLE sites")


def test_scope_parameters_go_where_the_placeholder_stands() -> None:
    scope = Scope.for_user(Role.DISTRICT_ADMIN, "451200", None)
    sql, params = scoped("SELECT 1 FROM sites s WHERE s.name <> '?' AND s.id > ? AND {scope} AND s.id < ?",
                         scope, [1, 9])
    assert params == [1, 4, "4512", 9]
    assert "{scope}" not in sql and "substr(s.region_code, 1, ?) = ?" in sql


def test_inconsistent_scopes_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        Scope(Role.DISTRICT_ADMIN)
    with pytest.raises(ValueError):
        Scope(Role.ENTERPRISE_USER)
    with pytest.raises(ValueError):
        Scope(Role.AUDITOR, region_prefix="")


def test_what_each_role_may_do() -> None:
    def can(role: Role, action: Action) -> bool:
        scope = Scope.for_user(role, "451200", 1)
        return scope.can(action)

    assert all(can(Role.CITY_ADMIN, a) for a in Action)
    assert can(Role.DISTRICT_ADMIN, Action.HANDLE_ALARMS) and not can(Role.DISTRICT_ADMIN, Action.MANAGE_USERS)
    assert can(Role.ENTERPRISE_USER, Action.RECORD_CHECKS) and not can(Role.ENTERPRISE_USER, Action.HANDLE_ALARMS)
    # reads, and marks data in audit (which changes no reading); never the enterprise, whose data it is
    assert [a for a in Action if can(Role.AUDITOR, a)] == [Action.READ, Action.READ_AUDIT, Action.AUDIT_DATA]
    assert can(Role.DISTRICT_ADMIN, Action.AUDIT_DATA) and not can(Role.ENTERPRISE_USER, Action.AUDIT_DATA)
    assert not any(can(Role.DEVICE, a) for a in Action)
    assert Scope(Role.AUDITOR).can("read") and not Scope(Role.AUDITOR).can("write_registry")
