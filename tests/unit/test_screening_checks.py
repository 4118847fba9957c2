"""Pure parts of the screening: distances, the neighbour grid, the thresholds table, flat runs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from forewarn.stats.checks.constant import _flat_runs
from forewarn.stats.checks.neighbour_drop import _within, haversine_km
from forewarn.stats.checks.registry import CheckRegistry, builtin_checks
from forewarn.stats.checks.thresholds import ThresholdError, load_thresholds
from forewarn.store.screening import ScreenedPoint


def _monitor(site: int, lon: float, lat: float) -> ScreenedPoint:
    return ScreenedPoint(site, site, site, f"MN{site}", "a34002", "Rtd", "", "pm10", "ug/m3", f"s{site}", lon, lat)


def test_haversine_gives_known_distances() -> None:
    assert haversine_km(116.3975, 39.9087, 121.4737, 31.2304) == pytest.approx(1068, rel=0.01)  # Beijing-Shanghai
    assert haversine_km(108.0, 24.7, 108.0, 24.7) == 0
    assert haversine_km(108.0, 24.7, 108.0, 24.745) == pytest.approx(5.0, rel=0.01)


def test_the_neighbour_grid_finds_exactly_what_measuring_every_pair_finds() -> None:
    rng = random.Random(3)
    monitors = [_monitor(i, rng.uniform(107.9, 108.3), rng.uniform(24.5, 24.9)) for i in range(300)]
    monitors += [_monitor(1000 + i, rng.uniform(113.1, 113.5), rng.uniform(49.8, 50.2)) for i in range(100)]
    for radius in (1.0, 5.0, 12.0):
        by_grid = {m.site_id: sorted(q.site_id for q, _ in near) for m, near in _within(monitors, radius)}
        for m in monitors:
            brute = sorted(q.site_id for q in monitors if q.site_id != m.site_id
                           and haversine_km(m.longitude, m.latitude, q.longitude, q.latitude) <= radius)  # type: ignore[arg-type]
            assert by_grid[m.site_id] == brute


def test_flat_runs_end_at_a_change_or_a_gap() -> None:
    h = 3_600_000
    values = [(0, 1.0), (h, 1.0), (2 * h, 1.0), (3 * h, 2.0), (4 * h, 2.0), (9 * h, 2.0), (10 * h, 2.0)]
    assert _flat_runs(values, 2 * h) == [(0, 2), (3, 4), (5, 6)]


def test_a_deployer_s_table_overrides_rows_and_a_bad_one_is_named(tmp_path: Path) -> None:
    builtin = load_thresholds()
    assert builtin.need("constant", "hours", "pm10") == 6
    assert builtin.get("constant", "hours", "combustible_gas") is None  # not screened for flat lines
    assert builtin.need("neighbour_drop", "radius_km", "pm10") == 5  # the '*' row
    (tmp_path / "screening.csv").write_text("check,quantity,setting,value,source\nconstant,pm10,hours,12,local\n",
                                            encoding="utf-8")
    local = load_thresholds(tmp_path)
    assert local.need("constant", "hours", "pm10") == 12 and local.need("constant", "hours", "pm25") == 6
    (tmp_path / "screening.csv").write_text("check,quantity,setting,value\nconstant,pm10,hours,many\n",
                                            encoding="utf-8")
    with pytest.raises(ThresholdError, match="row 2: value 'many' is not a number"):
        load_thresholds(tmp_path)


def test_kinds_are_registered_once() -> None:
    registry = builtin_checks()
    assert registry.kinds() == ["constant", "impossible", "neighbour_drop", "clock_drift", "repeats"]
    again = CheckRegistry()
    again.register(registry.get("constant"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="registered already"):
        again.register(registry.get("constant"))  # type: ignore[arg-type]
