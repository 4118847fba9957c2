"""The series query: raw when small, min/max buckets when large, peaks and their flags kept."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.series import series
from forewarn.store.sqlite import SqliteStore

MN = "SERIESTEST00000000000001"
T0 = 1_735_660_800_000
MIN = 60_000

Row = tuple[int, int, float | None, str]


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "forewarn.db", Catalogue())
    device = DeviceRow(region_code="140213", region_name="平城区", enterprise="企业", site="排口",
                       site_type="factory", mn=MN)
    s.apply_registry([device], [PointRow(MN, "a21026", "Avg"), PointRow(MN, "a21002", "Avg")])
    yield s
    s.close()


def _ids(store: SqliteStore) -> tuple[int, int]:
    rows = store.db.execute("SELECT id FROM points ORDER BY id").fetchall()
    return rows[0][0], rows[1][0]


def _write(store: SqliteStore, kind: Kind, rows: list[Row]) -> None:
    store.db.execute("BEGIN")
    store.db.executemany(f"INSERT INTO readings_{kind.value} VALUES (?, ?, ?, ?)", rows)
    store.db.execute("COMMIT")


def _wavy(point: int, n: int, seed: int = 1) -> list[Row]:
    rnd = random.Random(seed)
    return [
        (point, T0 + i * MIN, round(30 + 10 * math.sin(i / 200) + rnd.gauss(0, 1), 3), "N") for i in range(n)
    ]


def test_few_rows_come_back_as_stored(store: SqliteStore) -> None:
    p, _ = _ids(store)
    rows: list[Row] = [(p, T0, 1.5, "N"), (p, T0 + MIN, None, "D"), (p, T0 + 2 * MIN, 3.25, "T")]
    _write(store, Kind.MINUTE, rows)
    expected = [(ts, v, f) for _, ts, v, f in rows]
    assert store.series(p, Kind.MINUTE, T0, T0 + 2 * MIN, 3) == expected
    assert store.series(p, Kind.MINUTE, T0 - 10 * MIN, T0 + 10 * MIN, 2000) == expected
    # inclusive at both ends
    assert store.series(p, Kind.MINUTE, T0 + MIN, T0 + 2 * MIN, 10) == expected[1:]
    assert store.series(p, Kind.MINUTE, T0, T0, 10) == expected[:1]


def test_many_rows_are_downsampled_keeping_peaks(store: SqliteStore) -> None:
    p, other = _ids(store)
    rows = _wavy(p, 20_000)
    spike = (p, T0 + 7_777 * MIN, 58.0, "T")  # one sample, above its bucket's rhythm but not the top
    top = (p, T0 + 12_345 * MIN, 900.0, "N")
    bottom = (p, T0 + 16_001 * MIN, 0.0, "D")
    for planted in (spike, top, bottom):
        rows[(planted[1] - T0) // MIN] = planted
    _write(store, Kind.MINUTE, rows)
    _write(store, Kind.MINUTE, [(other, ts, 10_000.0, "N") for _, ts, _, _ in rows[::7]])
    stored = {ts: (v, f) for _, ts, v, f in rows}

    out = series(store.db, p, Kind.MINUTE, T0, T0 + 30_000 * MIN, 500)
    assert 400 <= len(out) <= 500
    assert [r[0] for r in out] == sorted({r[0] for r in out})  # strictly ascending
    assert all(T0 <= ts <= T0 + 19_999 * MIN for ts, _, _ in out)
    assert all(stored[ts] == (v, f) for ts, v, f in out)  # real rows, with their own flags
    for planted in (spike, top, bottom):
        assert planted[1:] in out
    assert max(v for _, v, _ in out if v is not None) == 900.0
    assert min(v for _, v, _ in out if v is not None) == 0.0


def test_each_bucket_gives_its_min_and_max(store: SqliteStore) -> None:
    p, _ = _ids(store)
    rnd = random.Random(7)
    rows: list[Row] = [(p, T0 + i * MIN + rnd.randrange(MIN), rnd.uniform(-50, 50), "N") for i in range(5_000)]
    _write(store, Kind.MINUTE, rows)
    lo, hi = rows[1_000][1], rows[3_999][1]
    out = series(store.db, p, Kind.MINUTE, lo, hi, 101)
    inside = [r for r in rows if lo <= r[1] <= hi]
    buckets = 101 // 2
    width = (inside[-1][1] - inside[0][1]) // buckets + 1
    expected: dict[int, list[float]] = {}
    for _, ts, v, _ in inside:
        assert v is not None
        expected.setdefault((ts - lo) // width, []).append(v)
    want = sorted(x for vs in expected.values() for x in {min(vs), max(vs)})
    assert sorted(v for _, v, _ in out if v is not None) == want
    assert len(out) <= 101


def test_max_points_two_gives_the_extremes(store: SqliteStore) -> None:
    p, _ = _ids(store)
    rows = _wavy(p, 3_000)
    rows[10] = (p, rows[10][1], -5.0, "N")
    rows[2_500] = (p, rows[2_500][1], 99.0, "N")
    _write(store, Kind.MINUTE, rows)
    out = series(store.db, p, Kind.MINUTE, T0, T0 + 3_000 * MIN, 2)
    assert out == [(rows[10][1], -5.0, "N"), (rows[2_500][1], 99.0, "N")]
    assert len(series(store.db, p, Kind.MINUTE, T0, T0 + 3_000 * MIN, 3)) <= 3


def test_null_values_do_not_break_buckets(store: SqliteStore) -> None:
    p, _ = _ids(store)
    rows: list[Row] = [(p, T0 + i * MIN, None if 100 <= i < 400 else float(i % 17), "D" if 100 <= i < 400 else "N")
                       for i in range(1_000)]
    _write(store, Kind.MINUTE, rows)
    out = series(store.db, p, Kind.MINUTE, T0, T0 + 1_000 * MIN, 20)
    assert len(out) <= 20
    assert any(v is None for _, v, _ in out)  # a bucket of nothing but NULLs shows as a gap
    assert {v for _, v, _ in out if v is not None} == {0.0, 16.0}


def test_kinds_are_kept_apart(store: SqliteStore) -> None:
    p, _ = _ids(store)
    _write(store, Kind.MINUTE, _wavy(p, 120))
    _write(store, Kind.HOUR, [(p, T0, 1.0, "N"), (p, T0 + 3_600_000, 2.0, "N")])
    _write(store, Kind.RTD, [(p, T0 + 30_000, 77.0, "N")])
    assert store.series(p, Kind.HOUR, T0, T0 + 10 * 3_600_000, 100) == [(T0, 1.0, "N"), (T0 + 3_600_000, 2.0, "N")]
    assert store.series(p, Kind.RTD, T0, T0 + MIN, 100) == [(T0 + 30_000, 77.0, "N")]
    minute = store.series(p, Kind.MINUTE, T0, T0 + 10 * 3_600_000, 1000)
    assert len(minute) == 120 and 77.0 not in [v for _, v, _ in minute]
    assert store.series(p, Kind.DAY, T0, T0 + 10 * 3_600_000, 100) == []


def test_empty_ranges(store: SqliteStore) -> None:
    p, other = _ids(store)
    _write(store, Kind.MINUTE, _wavy(p, 5_000))
    assert store.series(p, Kind.MINUTE, T0 - 100 * MIN, T0 - 1, 100) == []
    assert store.series(p, Kind.MINUTE, T0 + 10 * MIN, T0, 100) == []  # from after to
    assert store.series(other, Kind.MINUTE, T0, T0 + 10_000 * MIN, 100) == []
    assert store.series(9_999, Kind.MINUTE, T0, T0 + 10_000 * MIN, 100) == []


@pytest.mark.parametrize("bad", [1, 0, -5])
def test_max_points_below_two_is_refused(store: SqliteStore, bad: int) -> None:
    p, _ = _ids(store)
    with pytest.raises(ValueError, match="max_points must be at least 2"):
        store.series(p, Kind.MINUTE, T0, T0 + MIN, bad)
