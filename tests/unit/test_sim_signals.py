"""Simulated values move like real ones: meal times, shifts, working days, tanks, weather."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from statistics import mean

from forewarn.sim import SimDevice, facility_status, load_fleet, sample
from forewarn.sim.rhythm import TZ, tank_fraction, window_activity


def at(hour: int, minute: int = 0, day: int = 20, month: int = 11) -> int:
    return int(datetime(2024, month, day, hour, minute, tzinfo=TZ).timestamp() * 1000)


@cache
def fleet() -> tuple[SimDevice, ...]:
    return tuple(load_fleet())


def of(kind: str, site_type: str | None = None) -> list[SimDevice]:
    return [d for d in fleet() if d.kind == kind and site_type in (None, d.site_type)]


def test_oil_fume_is_higher_at_noon_than_at_three_in_the_morning() -> None:
    for device in of("fume_monitor"):
        noon, night = sample(device, at(12)), sample(device, at(3))
        assert noon["a34041"]["Rtd"] > night["a34041"]["Rtd"] + 0.2
        assert noon["a24088"]["Rtd"] > night["a24088"]["Rtd"]


def test_fan_and_purifier_run_at_meal_times_and_stop_at_night() -> None:
    for device in of("fume_monitor"):
        assert facility_status(device, at(12)) == {"SB1": 1, "SB2": 1}
        assert facility_status(device, at(18, 30)) == {"SB1": 1, "SB2": 1}
        assert facility_status(device, at(3)) == {"SB1": 0, "SB2": 0}
        assert facility_status(device, at(15, 30)) == {"SB1": 0, "SB2": 0}


def test_normal_oil_fume_stays_under_the_national_limit() -> None:
    for device in of("fume_monitor"):
        for minute in range(0, 24 * 60, 7):
            assert sample(device, at(0) + minute * 60_000)["a34041"]["Rtd"] < 2.0


def test_construction_sites_are_dustier_by_day_than_at_night() -> None:
    sites = of("dust_monitor", "construction_site")
    day = mean(sample(d, at(13))["a34002"]["Rtd"] for d in sites)
    night = mean(sample(d, at(1))["a34002"]["Rtd"] for d in sites)
    factories = mean(sample(d, at(13))["a34002"]["Rtd"] for d in of("dust_monitor", "factory"))
    assert day > 1.8 * night
    assert day > factories


def test_particulate_fractions_are_ordered_and_weather_is_plausible() -> None:
    for device in of("dust_monitor"):
        for hour in range(24):
            v = {code: f["Rtd"] for code, f in sample(device, at(hour)).items()}
            assert 0 < v["a34004"] < v["a34002"]  # PM2.5 < PM10 (ug/m3)
            assert 0 < v["a34001"] < 2.0  # TSP, mg/m3
            assert -30 < v["a01001"] < 25 and 5 <= v["a01002"] <= 100
            assert 85 < v["a01006"] < 95  # kPa at Datong's altitude
            assert 0 <= v["a01008"] < 360 and v["a01007"] >= 0


def test_datong_is_colder_in_january_than_in_july() -> None:
    device = of("dust_monitor")[0]
    assert sample(device, at(14, month=7))["a01001"]["Rtd"] > 20
    assert sample(device, at(14, month=1))["a01001"]["Rtd"] < 0


def test_production_runs_in_its_shift_and_treatment_follows_it() -> None:
    quarry = next(d for d in of("power_meter") if "采石" in d.site or "青石峪" in d.enterprise)
    roles = {p.code: p.role for p in quarry.points}
    day, night = sample(quarry, at(10)), sample(quarry, at(2))
    for code, role in roles.items():
        amps = next(p.upper for p in quarry.points_of(code) if p.field == "Ia")
        assert amps is not None
        assert day[code]["Ia"] > 0.5 * amps, role
        assert night[code]["Ia"] < 0.1 * amps, role
        assert day[code]["Pt"] > 10 * night[code]["Pt"]
    lunch = sample(quarry, at(12, 30))
    assert all(lunch[c]["Ia"] < day[c]["Ia"] / 2 for c, r in roles.items() if r == "production")


def test_treatment_starts_before_production_and_stops_after_it() -> None:
    quarry = next(d for d in of("power_meter") if "青石峪" in d.enterprise)  # day shift 07:30
    production = next(p.code for p in quarry.points if p.role == "production")
    treatment = next(p.code for p in quarry.points if p.role == "treatment")
    amps = {p.code: p.upper or 0.0 for p in quarry.points if p.field == "Ia"}
    early = sample(quarry, at(7, 27))  # production starts at 07:30, treatment 10 min earlier
    assert early[treatment]["Ia"] > 0.3 * amps[treatment]
    assert early[production]["Ia"] < 0.1 * amps[production]
    late = sample(quarry, at(18, 40))  # production stopped at 18:30, treatment 15 min later
    assert late[treatment]["Ia"] > 0.1 * amps[treatment]
    assert late[production]["Ia"] < 0.1 * amps[production]


def test_continuous_plants_run_at_night_too() -> None:
    plant = next(d for d in of("power_meter") if "热电" in d.enterprise)
    for code, values in sample(plant, at(3)).items():
        assert values["Ia"] > 100, code


def test_voltage_and_power_are_consistent() -> None:
    for device in of("power_meter"):
        for code, v in sample(device, at(10)).items():
            assert 200 < v["Ua"] < 250
            assert abs(v["Pt"] - 3 * v["Ua"] * v["Ia"] * 0.86 / 1000) < 1e-6, code


def test_lpg_tank_pressure_follows_its_temperature() -> None:
    station = of("gas_station_rtu", "lpg_station")[0]
    cold, warm = sample(station, at(4, month=1)), sample(station, at(16, month=7))
    assert warm["T1"]["Temp"] > cold["T1"]["Temp"] + 10
    assert warm["T1"]["Pres"] > cold["T1"]["Pres"] + 0.1
    assert 0.3 < cold["T1"]["Pres"] < warm["T1"]["Pres"] < 1.2


def test_lng_tanks_are_cryogenic() -> None:
    for site_type in ("lng_gasification_station", "cng_lng_filling_station", "gas_gate_station"):
        for station in of("gas_station_rtu", site_type):
            tank = sample(station, at(12))["T1"]
            assert -160 < tank["Temp"] < -140 and 0.2 < tank["Pres"] < 0.7


def test_tank_level_drifts_slowly_and_is_refilled() -> None:
    station = of("gas_station_rtu")[0]
    levels = [sample(station, at(0, day=1) + k * 30_000)["T1"]["Level"]
              for k in range(0, 6 * 24 * 120)]  # six days of 30 s ticks
    steps = [b - a for a, b in zip(levels, levels[1:], strict=False)]
    assert max(abs(s) for s in steps if s < 0) < 1.0  # drains slowly (noise included)
    assert max(steps) > 0.25  # a tanker refill raises it quickly
    assert min(levels) < 30 and max(levels) > 75


def test_combustible_gas_reads_about_zero_normally() -> None:
    for station in of("gas_station_rtu"):
        values = sample(station, at(11))
        assert all(values[tag]["LEL"] < 2 for tag in ("GD1", "GD2", "GD3"))


def test_shapes() -> None:
    windows = ((11.0, 13.5),)
    assert window_activity(12.0, windows, 0.4) == 1.0
    assert window_activity(3.0, windows, 0.4) == 0.0
    assert 0 < window_activity(11.2, windows, 0.4) < 1
    assert window_activity(0.01, ((0.0, 24.0),), 0.2) == 1.0
    assert tank_fraction(0, 48, 0.0, 1.5) == 1.0
    assert 0.45 < tank_fraction(23 * 3_600_000, 48, 0.0, 1.5) < 0.55
