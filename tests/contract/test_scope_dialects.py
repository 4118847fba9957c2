"""A user's scope selects the same sites, regions and enterprises on SQLite and on PostgreSQL.

The scope is a value compiled by each store's dialect (forewarn.store.dialect); this runs the
same scoped queries over the same rows on both engines, for every kind of reach.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from forewarn.access.roles import Role
from forewarn.access.scope import Scope, scoped
from forewarn.store.dialect import POSTGRES, SQLITE, Dialect, dialect_of

_TABLES = [
    "CREATE TABLE regions (code TEXT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE enterprises (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region_code TEXT)",
    "CREATE TABLE sites (id INTEGER PRIMARY KEY, enterprise_id INTEGER NOT NULL, name TEXT NOT NULL, "
    "region_code TEXT NOT NULL)",
]
_REGIONS = [("451200", "河池市"), ("451202", "金城江区"), ("451221", "南丹县"), ("140200", "大同市"),
            ("45120", "a code whose first five digits look like Hechi's")]
#: enterprise 3 is registered in Datong but has a site in Nandan: a Hechi district sees it
_ENTERPRISES = [(1, "金城江燃气", "451202"), (2, "南丹石料", "451221"), (3, "大同能源", "140200")]
_SITES = [(10, 1, "城东站", "451202"), (11, 1, "城西站", "451202"), (20, 2, "一号矿", "451221"),
          (30, 3, "南丹分站", "451221"), (31, 3, "大同总站", "140200")]

Run = Callable[[str, list[object]], list[tuple[Any, ...]]]


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Dialect, Run]]:
    rows = {"regions": _REGIONS, "enterprises": _ENTERPRISES, "sites": _SITES}
    if request.param == "sqlite":
        db = sqlite3.connect(tmp_path / "scope.db")
        for ddl in _TABLES:
            db.execute(ddl)
        for table, values in rows.items():
            db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values[0]))})", values)
        yield SQLITE, lambda sql, params: db.execute(sql, params).fetchall()
        db.close()
        return
    dsn = request.getfixturevalue("pg_dsn")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for ddl in _TABLES:
            conn.execute(ddl)
        for table, values in rows.items():
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(values[0]))})", values)
        yield POSTGRES, lambda sql, params: conn.execute(sql, params).fetchall()


_SCOPES = {
    "city": Scope(Role.CITY_ADMIN),
    "jinchengjiang": Scope.for_user(Role.DISTRICT_ADMIN, "451202", None),
    "hechi": Scope.for_user(Role.DISTRICT_ADMIN, "451200", None),
    "nandan auditor": Scope.for_user(Role.AUDITOR, "451221", None),
    "enterprise 3": Scope.for_user(Role.ENTERPRISE_USER, None, 3),
}


@pytest.mark.parametrize(("who", "sites"), [
    ("city", [10, 11, 20, 30, 31]),
    ("jinchengjiang", [10, 11]),
    ("hechi", [10, 11, 20, 30]),
    ("nandan auditor", [20, 30]),
    ("enterprise 3", [30, 31]),
])
def test_a_scope_selects_the_same_sites_on_either_engine(engine: tuple[Dialect, Run], who: str,
                                                          sites: list[int]) -> None:
    dialect, run = engine
    query = scoped("SELECT s.id FROM sites s WHERE {scope} AND s.id >= ? ORDER BY s.id", _SCOPES[who], [0],
                   dialect=dialect)
    assert [r[0] for r in run(*query)] == sites


@pytest.mark.parametrize(("who", "regions", "enterprises"), [
    ("jinchengjiang", ["451202"], [1]),
    ("hechi", ["45120", "451200", "451202", "451221"], [1, 2, 3]),
    ("enterprise 3", ["140200", "451221"], [3]),
])
def test_regions_and_enterprises_in_scope_agree_across_engines(
        engine: tuple[Dialect, Run], who: str, regions: list[str], enterprises: list[int]) -> None:
    dialect, run = engine
    scope = _SCOPES[who]
    got_regions = run(*scoped("SELECT r.code FROM regions r WHERE {scope} ORDER BY r.code", scope,
                              over="regions", site_alias="r", dialect=dialect))
    got_enterprises = run(*scoped("SELECT e.id FROM enterprises e WHERE {scope} ORDER BY e.id", scope,
                                  over="enterprises", site_alias="e", dialect=dialect))
    assert [r[0] for r in got_regions] == regions
    assert [r[0] for r in got_enterprises] == enterprises


def test_a_literal_question_mark_or_percent_survives_the_postgres_spelling(engine: tuple[Dialect, Run]) -> None:
    dialect, run = engine
    query = scoped("SELECT s.name || '?%' FROM sites s WHERE {scope} AND s.id = ?", _SCOPES["city"], [10],
                   dialect=dialect)
    assert run(*query) == [("城东站?%",)]


def test_the_dialect_follows_the_store_url() -> None:
    assert dialect_of("postgresql://postgres@127.0.0.1/test") is POSTGRES
    assert dialect_of("sqlite:///forewarn-data/forewarn.db") is SQLITE
