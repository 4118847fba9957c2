"""The real PostgreSQL of this machine (127.0.0.1:5432, database ``test``), one fresh schema a test.

Every machine of the project and CI's runs PostgreSQL before the session starts. A test gets a
DSN whose ``search_path`` is a schema of its own, created empty and dropped afterwards, so tests
run side by side on one database and nothing one leaves behind is seen by the next.
Set FOREWARN_TEST_PG to point the suite at another server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

BASE_DSN = os.environ.get("FOREWARN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

__all__ = ["BASE_DSN", "fresh_pg_schema"]


def _with_search_path(dsn: str, schema: str) -> str:
    joiner = "&" if "?" in dsn else "?"
    return f"{dsn}{joiner}options=-csearch_path%3D{schema}"


def fresh_pg_schema() -> Iterator[str]:
    """Yield a DSN bound to a new empty schema; drop the schema after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(BASE_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # the machine's PostgreSQL is part of the test set-up
        pytest.fail(f"PostgreSQL at {BASE_DSN} is not reachable ({exc}); it is started before every session and CI")
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield _with_search_path(BASE_DSN, schema)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
