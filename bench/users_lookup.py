"""Who is asking, on each store: the API token and session lookups every API request makes.

    .venv/bin/python bench/users_lookup.py [--n 5000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Every request with a bearer token runs ``user_for_token`` (one indexed read joining the token,
its user and the user's enterprise), every dashboard request ``user_for_session`` (the same for
a session); both run through the users repository (``forewarn.store.users``) on a fresh SQLite
file and on a fresh schema of the PostgreSQL given (dropped afterwards), with 1,000 users and
their tokens and sessions so the indexes are not trivially small. Reported: microseconds per
lookup (median and p99 of ``--n``), one connection, no contention; and the floor: ``SELECT 1``
on the same connection (for PostgreSQL, one round trip to the server).

A command, not a timed test: the figures go into docs/benchmarks.md with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from forewarn.access.passwords import hash_password
from forewarn.access.sessions import open_session, user_for_session
from forewarn.access.tx import atomic
from forewarn.access.users import create_user, issue_api_token, user_for_token
from forewarn.store import migrate as sqlite_migrate
from forewarn.store.postgres import migrate as pg_migrate

WHO = {"actor": "bench", "origin": "bench"}
USERS = 1_000
DAY = 86_400_000


def _fill(db: Any) -> tuple[str, str]:
    """1,000 users with a token and a session each; one user's token and session token."""
    hashed = hash_password("bench-password-1")
    token = session = ""
    with atomic(db):
        for i in range(USERS):
            user = create_user(db, f"u{i}", "", "city_admin", password_hash=hashed, **WHO, now_ms=0)
            token = issue_api_token(db, user.name, **WHO, now_ms=0, days=None).token
            session = open_session(db, user, now_ms=0, ttl_ms=DAY, address="127.0.0.1").token
    return token, session


def _time(n: int, look: Callable[[], object]) -> tuple[float, float]:
    took = []
    for _ in range(n):
        start = time.perf_counter_ns()
        if look() is None:
            raise SystemExit("a lookup found nothing: the bench is broken")
        took.append((time.perf_counter_ns() - start) / 1000)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.99)]


def _measure(name: str, db: Any, n: int) -> None:
    token, session = _fill(db)
    for what, look in (("token", lambda: user_for_token(db, token, now_ms=1, touch=False)),
                       ("session", lambda: user_for_session(db, session, now_ms=1, idle_ms=DAY)),
                       ("floor", lambda: db.execute("SELECT 1").fetchone())):
        _time(min(n, 500), look)  # warm caches and prepared statements
        median, p99 = _time(n, look)
        print(f"{name:<10} {what:<8} median {median:7.1f} us   p99 {p99:7.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--pg", default=os.environ.get("FOREWARN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "forewarn.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        sqlite_migrate.migrate(db)
        _measure("sqlite", db, args.n)
        db.close()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            with psycopg.connect(args.pg, autocommit=True, options=f"-csearch_path={schema}") as conn:
                pg_migrate.migrate(conn)
                _measure("postgres", conn, args.n)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
