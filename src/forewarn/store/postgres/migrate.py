"""Numbered PostgreSQL migrations: ``migrations/NNNN_name.sql``, applied once each, in order.

The numbers and stems are those of the SQLite migrations (``forewarn.store.migrate``), so both
stores are at the same version with the same tables. Each migration runs in one transaction
with its row in ``schema_migrations``; a session advisory lock, keyed by the schema, makes a
second process that starts at the same moment wait and then find the work done rather than
apply a migration twice.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import psycopg

__all__ = ["migrate", "migrations"]


def migrations() -> list[tuple[int, str, str]]:
    """Every PostgreSQL migration shipped: (version, file name, SQL), in order."""
    folder = resources.files("forewarn.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the migrations this database's schema (the first of search_path) lacks; return
    their names. ``conn`` must be in autocommit mode: each migration is its own transaction."""
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection (each migration is its own transaction)")
    applied: list[str] = []
    conn.execute("SELECT pg_advisory_lock(hashtext('forewarn.migrate:' || current_schema()))")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            with conn.transaction():
                # no parameters: the file goes as one simple query, PL/pgSQL bodies and all
                conn.execute(sql.encode("utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (%s, %s, %s)",
                    (version, name, int(time.time() * 1000)),
                )
            applied.append(name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext('forewarn.migrate:' || current_schema()))")
    return applied
