"""Each incident kind does what it claims, and the planner is repeatable given a seed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from functools import cache

import pytest

from forewarn.protocols.hj212.codec import Hj212Error, decode
from forewarn.protocols.hj212.crc import hj212_crc
from forewarn.sim import (
    Incident,
    IncidentKind,
    IncidentPlanner,
    SimDevice,
    facility_status,
    load_fleet,
    load_profiles,
    render,
    sample,
)
from forewarn.sim.planner import eligible
from forewarn.sim.rhythm import TZ

MINUTE = 60_000


def at(hour: int, minute: int = 0) -> int:
    return int(datetime(2024, 11, 20, hour, minute, tzinfo=TZ).timestamp() * 1000)


@cache
def fleet() -> tuple[SimDevice, ...]:
    return tuple(load_fleet())


def first(kind: str, site_type: str | None = None) -> SimDevice:
    return next(d for d in fleet() if d.kind == kind and site_type in (None, d.site_type))


def incident(kind: IncidentKind, device: SimDevice, start: int, minutes: float,
             target: str = "", level: float = 0.0) -> Incident:
    return Incident(kind, device.mn, device.site, start, start + int(minutes * MINUTE),
                    target=target, level=level)


def test_gas_leak_raises_one_detector_to_its_level_for_its_duration() -> None:
    station = first("gas_station_rtu")
    leak = incident(IncidentKind.GAS_LEAK, station, at(10), 4, target="GD2", level=42.0)
    for minute in range(4):
        values = sample(station, at(10, minute), [leak])
        assert 42.0 <= values["GD2"]["LEL"] <= 42.0 * 1.05
        assert values["GD1"]["LEL"] < 2 and values["GD3"]["LEL"] < 2
    assert sample(station, at(10, 4), [leak])["GD2"]["LEL"] < 2
    assert sample(station, at(9, 59), [leak])["GD2"]["LEL"] < 2


def test_gas_leak_at_the_low_end_still_reaches_the_level_one_alarm() -> None:
    station = first("gas_station_rtu")
    leak = incident(IncidentKind.GAS_LEAK, station, at(10), 4, target="GD1", level=25.0)
    assert all(sample(station, at(10) + k * 30_000, [leak])["GD1"]["LEL"] >= 25 for k in range(8))


def test_treatment_off_zeroes_treatment_while_production_runs() -> None:
    meter = first("power_meter")
    off = incident(IncidentKind.TREATMENT_OFF, meter, at(10), 15)
    roles = {p.code: p.role for p in meter.points}
    values = sample(meter, at(10, 5), [off])
    for code, role in roles.items():
        if role == "treatment":
            assert values[code]["Ia"] < 1 and values[code]["Pt"] < 1
        else:
            assert values[code]["Ia"] > 50 and values[code]["Pt"] > 20
    normal = sample(meter, at(10, 5))
    assert all(normal[c]["Ia"] > 50 for c in roles)


def test_treatment_off_stops_the_energy_count_and_it_never_goes_back() -> None:
    meter = first("power_meter")
    off = incident(IncidentKind.TREATMENT_OFF, meter, at(10), 15)
    treatment = next(p.code for p in meter.points if p.role == "treatment")
    series = [sample(meter, at(9, 50) + k * MINUTE, [off])[treatment]["Ept"] for k in range(40)]
    during = series[11:25]  # 10:01 .. 10:14
    assert max(during) - min(during) < 0.5
    assert all(b >= a for a, b in zip(series, series[1:], strict=False))
    assert series[-1] > series[25] + 10  # counting again after 10:15


def test_fume_exceedance_goes_over_the_national_limit_with_the_fan_on() -> None:
    kitchen = first("fume_monitor")
    over = incident(IncidentKind.FUME_EXCEED, kitchen, at(12), 10, level=2.6)
    for minute in range(10):
        values = sample(kitchen, at(12, minute), [over])
        assert values["a34041"]["Rtd"] > 2.0
        assert values["a34000"]["Rtd"] > sample(kitchen, at(12, minute))["a34000"]["Rtd"]
        assert facility_status(kitchen, at(12, minute), [over])["SB1"] == 1
    assert sample(kitchen, at(12, 10), [over])["a34041"]["Rtd"] < 2.0


def test_fume_exceedance_shows_in_the_wire_value_and_in_the_minute_aggregate() -> None:
    kitchen = first("fume_monitor")
    over = incident(IncidentKind.FUME_EXCEED, kitchen, at(11, 58), 15, level=3.0)
    packets = render(kitchen, at(12, 10), [over])
    text = b"".join(p.frame for p in packets).decode()
    for sub in ("Rtd", "Avg"):
        m = re.search(rf"a34041-{sub}=([\d.]+)", text)
        assert m and float(m[1]) > 2.0, sub


def test_a_silent_device_sends_nothing_until_the_silence_ends() -> None:
    device = first("dust_monitor")
    quiet = incident(IncidentKind.SILENT, device, at(10), 5)
    assert render(device, at(10, 2), [quiet]) == []
    assert render(device, at(10, 5), [quiet]) != []
    other = first("fume_monitor")
    assert render(other, at(10, 2), [quiet]) != []  # only the target goes quiet


def test_bad_crc_breaks_one_packet_once_and_the_retry_is_correct() -> None:
    device = first("dust_monitor")
    start = at(10, 0) + 500
    broken = incident(IncidentKind.MALFORMED, device, start, device.interval_s / 60,
                      target="bad_crc")
    tick = start + 20_000  # the one tick inside the incident
    packets = render(device, tick, [broken])
    bad = packets[0]
    body = bad.frame[6:-6]
    assert bad.frame[-6:-2] != b"%04X" % hj212_crc(body)
    with pytest.raises(Hj212Error):
        decode(bad.frame)
    assert bad.retry_frame is not None
    decode(bad.retry_frame)
    assert bad.retry_frame[:-6] == bad.frame[:-6]
    assert all(p.frame == p.retry_frame for p in packets[1:])
    after = render(device, tick + device.interval_s * 1000, [broken])
    assert all(p.frame == p.retry_frame for p in after)


def test_garbage_is_line_noise_before_the_normal_packets() -> None:
    device = first("power_meter")
    broken = incident(IncidentKind.MALFORMED, device, at(10), device.interval_s / 60,
                      target="garbage")
    packets = render(device, at(10), [broken])
    noise, *rest = packets
    assert not noise.wants_answer and b"#" not in noise.frame and noise.frame.endswith(b"\r\n")
    assert len(rest) == 1 and rest[0].frame == rest[0].retry_frame


def test_incident_log_line_names_the_device_and_site() -> None:
    station = first("gas_station_rtu")
    line = incident(IncidentKind.GAS_LEAK, station, at(10), 3, "GD1", 33.3).describe()
    assert station.mn in line and station.site in line and "gas_leak" in line and "GD1" in line


def plan(seed: int | None, count: int, rate: float = 0.6, start: int | None = None
         ) -> list[Incident]:
    planner = IncidentPlanner(fleet(), load_profiles().incidents, rate_per_min=rate, seed=seed,
                              start_ms=at(12) if start is None else start)
    out: list[Incident] = []
    while len(out) < count:
        got = planner.pop()
        if got is not None:
            out.append(got)
    return out


def test_the_same_seed_replays_the_same_incidents() -> None:
    assert plan(7, 30) == plan(7, 30)
    assert plan(7, 30) != plan(8, 30)


def test_incidents_come_at_the_requested_rate_and_in_every_kind() -> None:
    incidents = plan(1, 200)
    span_min = (incidents[-1].start_ms - incidents[0].start_ms) / MINUTE
    assert 0.4 < len(incidents) / span_min < 0.9  # ~0.6 a minute
    assert set(Counter(i.kind for i in incidents)) == set(IncidentKind)


def test_incidents_only_go_where_they_can_be_seen() -> None:
    by_mn = {d.mn: d for d in fleet()}
    for inc in plan(3, 300, start=at(0)):
        device = by_mn[inc.mn]
        assert eligible(inc.kind, device, inc.start_ms)
        if inc.kind is IncidentKind.GAS_LEAK:
            assert 25 <= inc.level <= 60 and inc.target.startswith("GD")
            assert 2 * MINUTE <= inc.end_ms - inc.start_ms <= 6 * MINUTE
        if inc.kind is IncidentKind.FUME_EXCEED:
            assert inc.level > 2.0 and device.kind == "fume_monitor"
        if inc.kind is IncidentKind.TREATMENT_OFF:
            assert device.kind == "power_meter"
        if inc.kind is IncidentKind.MALFORMED:
            assert inc.target in {"bad_crc", "garbage"}
            assert inc.end_ms - inc.start_ms == device.interval_s * 1000


def test_a_zero_rate_means_no_incidents() -> None:
    planner = IncidentPlanner(fleet(), load_profiles().incidents, rate_per_min=0, seed=1,
                              start_ms=at(12))
    assert planner.next_at is None and planner.pop() is None
