"""The PostgreSQL schema is the SQLite schema: same tables, same columns in the same order, so
that a copy goes table by table; migrating is idempotent and safe from two processes at once;
month partitions appear on demand and take over what the DEFAULT partition held."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg

from forewarn.store import migrate as sqlite_migrate
from forewarn.store.postgres.migrate import migrate, migrations
from forewarn.store.postgres.sequences import bump_identities


def _sqlite_columns(path: Path, versions: set[int]) -> dict[str, list[str]]:
    """The SQLite schema after the given migrations (those PostgreSQL has too)."""
    db = sqlite3.connect(path, isolation_level=None)
    for version, _, text in sqlite_migrate._migrations():
        if version in versions:
            for statement in sqlite_migrate._statements(text):
                db.execute(statement)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}


def _pg_columns(conn: psycopg.Connection[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    rows = conn.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = current_schema()::regnamespace "
        "WHERE c.table_schema = current_schema() AND NOT k.relispartition "
        "ORDER BY c.table_name, c.ordinal_position"
    ).fetchall()
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_same_versions_tables_and_columns_as_sqlite(pg_dsn: str, tmp_path: Path) -> None:
    sqlite_versions = {version for version, _, _ in sqlite_migrate._migrations()}
    pg_versions = {version for version, _, _ in migrations()}
    # every PostgreSQL migration has its SQLite twin; one written for SQLite a moment before its
    # twin is compared once the twin exists
    assert pg_versions <= sqlite_versions
    assert {1, 3, 6, 22, 23} <= pg_versions
    sqlite_names = {name for version, name, _ in sqlite_migrate._migrations() if version in pg_versions}
    assert sqlite_names == {name for _, name, _ in migrations()}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        migrate(conn)
        pg = _pg_columns(conn)
    pg.pop("schema_migrations")
    assert pg == _sqlite_columns(tmp_path / "f.db", pg_versions)


def test_migrating_twice_at_once_applies_each_migration_once(pg_dsn: str) -> None:
    results: list[list[str]] = []

    def run() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            results.append(migrate(conn))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, len(migrations())]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert migrate(conn) == []
        (count,) = conn.execute("SELECT count(*) FROM schema_migrations").fetchone() or (0,)
        assert count == len(migrations())


def test_month_partition_takes_over_rows_the_default_held(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        migrate(conn)
        jan_2020 = 1_577_836_800_000
        conn.execute("INSERT INTO readings_minute VALUES (1, %s, 1.5, 'N')", (jan_2020 + 60_000,))
        name = conn.execute("SELECT forewarn_readings_partition('minute', %s)", (jan_2020,)).fetchone()
        assert name == ("readings_minute_2020_01",)
        rows = conn.execute("SELECT tableoid::regclass::text, point_id, value FROM readings_minute").fetchall()
        assert rows == [("readings_minute_2020_01", 1, 1.5)]
        # the month's bounds are [1 Jan, 1 Feb) UTC: the last millisecond of January belongs to it
        conn.execute("INSERT INTO readings_minute VALUES (1, %s, 2.5, 'N')", (1_580_515_200_000 - 1,))
        conn.execute("INSERT INTO readings_minute VALUES (1, %s, 3.5, 'N')", (1_580_515_200_000,))
        where = dict(conn.execute("SELECT value, tableoid::regclass::text FROM readings_minute").fetchall())
        assert where[2.5] == "readings_minute_2020_01" and where[3.5] == "readings_minute_default"


def test_identities_move_past_copied_ids(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        migrate(conn)
        conn.execute("INSERT INTO enterprises (id, name) VALUES (41, 'copied')")
        assert bump_identities(conn)["enterprises"] == 42
        row = conn.execute("INSERT INTO enterprises (name) VALUES ('new') RETURNING id").fetchone()
        assert row == (42,)
