"""One definition of online: the Python test and the SQL expression agree at every edge."""

from __future__ import annotations

import sqlite3

import pytest

from forewarn.online import is_online, online_sql

NOW = 1_700_000_000_000


@pytest.mark.parametrize(("last_ms", "interval_s", "factor", "expected"), [
    (None, 60, 3.0, False),               # never heard
    (NOW, 60, 3.0, True),
    (NOW - 180_000, 60, 3.0, True),       # exactly three intervals: still online
    (NOW - 180_001, 60, 3.0, False),      # a millisecond more: offline
    (NOW - 45_000, 30, 1.5, True),
    (NOW - 45_001, 30, 1.5, False),       # fractional factors count exactly
    (NOW - 3_600_000, 3600, 0.5, False),
])
def test_python_and_sql_agree_on_when_a_device_is_online(
        last_ms: int | None, interval_s: int, factor: float, expected: bool) -> None:
    assert is_online(last_ms, interval_s, NOW, factor) is expected
    db = sqlite3.connect(":memory:")
    (sql_online,) = db.execute(f"SELECT {online_sql('?1', '?2', NOW, factor)}", (last_ms, interval_s)).fetchone()
    assert sql_online == int(expected)
