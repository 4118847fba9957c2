"""The simulator's packets: valid HJ 212-2017 frames, in the formats devices really use."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache

from forewarn.protocols.hj212.codec import decode
from forewarn.protocols.hj212.crc import hj212_crc
from forewarn.sim import SimDevice, load_fleet, render, render_segments
from forewarn.sim.rhythm import TZ

SEGMENT = re.compile(
    r"QN=(?P<qn>\d{17});ST=(?P<st>\w+);CN=(?P<cn>\d{4});PW=(?P<pw>\w{6});MN=(?P<mn>[0-9A-F]{24});"
    r"Flag=5;CP=&&(?P<cp>.*)&&"
)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 20) -> int:
    return int(datetime(2024, 11, day, hour, minute, second, tzinfo=TZ).timestamp() * 1000)


@cache
def fleet() -> tuple[SimDevice, ...]:
    return tuple(load_fleet())


def first(kind: str, site_type: str | None = None) -> SimDevice:
    return next(d for d in fleet() if d.kind == kind and site_type in (None, d.site_type))


def cp_of(segment: str) -> str:
    m = SEGMENT.fullmatch(segment)
    assert m, segment
    return m["cp"]


def check_frame(frame: bytes) -> str:
    """Assert the framing is right (length, CRC, CRLF) and return the segment."""
    assert frame.startswith(b"##") and frame.endswith(b"\r\n")
    length = int(frame[2:6])
    body = frame[6:-6]
    assert len(body) == length <= 1024
    assert frame[-6:-2] == b"%04X" % hj212_crc(body)
    return body.decode("utf-8")


def test_every_device_in_the_fleet_yields_valid_frames_day_and_night() -> None:
    for device in fleet():
        for ms in (at(12), at(3, 0, 7)):
            packets = render(device, ms)
            assert packets, device.mn
            for packet in packets:
                seg = check_frame(packet.frame)
                assert packet.retry_frame == packet.frame
                m = SEGMENT.fullmatch(seg)
                assert m, seg
                assert m["mn"] == device.mn and m["pw"] == device.password
                assert m["st"] == device.profile.st and m["qn"] == packet.qn
                frame = decode(packet.frame)  # the platform's strict codec accepts it
                assert frame.mn == device.mn and frame.answer_wanted and frame.version == "2017"


def test_qn_and_datatime_are_shanghai_local_time() -> None:
    ms = at(12, 34, 56) + 789
    seg = render_segments(first("dust_monitor"), ms)[0]
    assert seg.startswith("QN=20241120123456789;")
    assert "CP=&&DataTime=20241120123456;" in seg


def test_packets_of_one_tick_have_distinct_qns() -> None:
    device = first("fume_monitor")
    packets = render(device, at(12))  # 2011 + 2021 + 2051 at the :00 boundary
    assert [p.cn for p in packets] == ["2011", "2021", "2051"]
    assert len({p.qn for p in packets}) == 3


def test_dust_realtime_segment_carries_every_factor_with_rtd_and_flag() -> None:
    seg = render_segments(first("dust_monitor"), at(12, 0, 30))[0]
    cp = cp_of(seg)
    items = cp.split(";")
    assert items[0] == "DataTime=20241120120030"
    codes = [item.split("-")[0] for item in items[1:]]
    assert codes == ["a34002", "a34004", "a34001", "a01001", "a01002", "a01006", "a01007",
                     "a01008", "LA"]
    for item in items[1:]:
        assert re.fullmatch(r"(\w+)-Rtd=-?\d+(\.\d+)?,\1-Flag=N", item), item


def test_power_meter_segment_uses_meter_numbers_as_codes() -> None:
    device = first("power_meter")
    seg = render_segments(device, at(10))[0]
    cp = cp_of(seg)
    items = cp.split(";")[1:]
    assert len(items) == len(device.codes())
    for code, item in zip(device.codes(), items, strict=True):
        assert re.fullmatch(
            rf"{code}-Ia=[\d.]+,{code}-Ua=[\d.]+,{code}-Pt=[\d.]+,{code}-Ept=[\d.]+,{code}-Flag=N",
            item,
        ), item


def test_gas_segment_reports_tanks_and_detectors_by_tag() -> None:
    seg = render_segments(first("gas_station_rtu", "lpg_station"), at(10))[0]
    cp = cp_of(seg)
    items = cp.split(";")[1:]
    assert re.fullmatch(r"T1-Level=[\d.]+,T1-Pres=[\d.]+,T1-Temp=-?[\d.]+,T1-Flag=N", items[0])
    assert re.fullmatch(r"T2-Level=[\d.]+,T2-Pres=[\d.]+,T2-Temp=-?[\d.]+,T2-Flag=N", items[1])
    assert [re.fullmatch(r"(GD\d)-LEL=[\d.]+,\1-Flag=N", i) is not None for i in items[2:]] == [
        True, True, True]


def test_minute_aggregate_is_sent_once_per_ten_minutes_for_the_period_just_ended() -> None:
    device = first("dust_monitor")
    start = at(11, 55, 17)
    aggregates = []
    for k in range(30):  # 30 one-minute ticks from 11:55:17 to 12:24:17
        for seg in render_segments(device, start + k * 60_000):
            if ";CN=2051;" in seg:
                aggregates.append(seg)
    assert len(aggregates) == 3
    times = [cp_of(s)[9:23] for s in aggregates]
    assert times == ["20241120115000", "20241120120000", "20241120121000"]
    for seg in aggregates:
        for m in re.finditer(r"(\w+)-Min=([\d.]+),\1-Avg=([\d.]+),\1-Max=([\d.]+),\1-Flag=N", seg):
            lo, avg, hi = float(m[2]), float(m[3]), float(m[4])
            if m[1] != "a01008":  # wind direction is averaged on the circle
                assert lo <= avg <= hi


def test_power_and_gas_devices_send_only_realtime_data() -> None:
    for kind in ("power_meter", "gas_station_rtu"):
        packets = render(first(kind), at(12))
        assert [p.cn for p in packets] == ["2011"]


def test_the_same_instant_gives_the_same_packets() -> None:
    for device in fleet()[::7]:
        assert render_segments(device, at(9, 1, 2)) == render_segments(device, at(9, 1, 2))


def test_energy_is_cumulative_and_grows_with_time() -> None:
    device = first("power_meter")

    def ept(ms: int) -> list[float]:
        seg = render_segments(device, ms)[0]
        return [float(v) for v in re.findall(r"-Ept=([\d.]+)", seg)]

    series = [ept(at(0) + k * 600_000) for k in range(6 * 24)]
    for before, after in zip(series, series[1:], strict=False):
        assert all(b <= a for b, a in zip(before, after, strict=True))
    assert all(v > 10_000 for v in series[0])
