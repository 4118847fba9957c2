"""Numbered schema migrations: ``migrations/NNNN_name.sql``, applied once each, in order."""

from __future__ import annotations

import sqlite3
import time
from importlib import resources

__all__ = ["migrate"]


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("forewarn.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations this database lacks; return their names."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in _migrations():
        if version in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # re-check inside the lock: another process may have migrated meanwhile
            if db.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)
            ).fetchone():
                db.execute("COMMIT")
                continue
            for statement in _statements(sql):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                (version, name, int(time.time() * 1000)),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements. A ';' ends one only where SQLite says the statement
    is complete, so a trigger's body (several statements between BEGIN and END) stays whole;
    the files hold no ';' inside string literals."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    out: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending.strip().rstrip(";").strip())
            pending = ""
    if pending.strip(" \n;"):
        out.append(pending.strip().rstrip(";").strip())
    return [statement for statement in out if statement]
