"""Fixtures of the contract suites: every test here runs on each implementation of a port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import fresh_pg_schema


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A DSN of the machine's PostgreSQL whose search_path is a fresh schema of this test's own."""
    yield from fresh_pg_schema()
