"""HTTP payloads (ThingsBoard telemetry, forewarn batches) become the same readings as HJ 212."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from forewarn.model import Kind
from forewarn.protocols.hj212.codec import parse
from forewarn.protocols.hj212.readings import DataTimeConverter, frame_rows
from forewarn.protocols.http.telemetry import PayloadError, batch_rows, thingsboard_rows
from tests.conftest import FieldPacket

T0 = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00
LATEST = T0 + 86_400_000


def test_thingsboard_payload_equals_the_hj212_packet_with_the_same_values(field_packets: list[FieldPacket]) -> None:
    packet = next(p for p in field_packets if b"ST=80" in p.packet and b"100000-Ia" in p.packet)
    frame = parse(packet.packet)
    kind, hj_rows, _ = frame_rows(frame, DataTimeConverter(ZoneInfo("Asia/Shanghai")), 2**62)
    ts = hj_rows[0][2]
    values = {f"{code}-{sub}": float(v) if sub != "Flag" else v
              for code, subs in frame.factors.items() for sub, v in subs.items()}
    tb = thingsboard_rows({"ts": ts, "values": values}, frame.mn, T0, 2**62)
    assert tb.rows == {(frame.mn, Kind.RTD): hj_rows} and kind is Kind.RTD and not tb.problems


def test_the_three_thingsboard_shapes() -> None:
    plain = thingsboard_rows({"a34002": 45.2, "a34004-Rtd": "21", "valve": True}, "M1", T0, LATEST)
    assert plain.rows[("M1", Kind.RTD)] == [("a34002", "Rtd", T0, 45.2, "N"), ("a34004", "Rtd", T0, 21.0, "N"),
                                            ("valve", "Rtd", T0, 1.0, "N")]
    listed = thingsboard_rows([{"ts": T0 - 60_000, "values": {"a34002": 1, "a34002-Flag": "M"}},
                               {"ts": T0, "values": {"a34002": 2}}], "M1", T0, LATEST)
    assert listed.rows[("M1", Kind.RTD)] == [("a34002", "Rtd", T0 - 60_000, 1.0, "M"), ("a34002", "Rtd", T0, 2.0, "N")]


def test_bad_values_are_refused_alone_and_bad_payloads_as_a_whole() -> None:
    mixed = thingsboard_rows({"a34002": "abc", "a34004": 3, "x": {"nested": 1}, "y": float("nan")}, "M1", T0, LATEST)
    assert mixed.count == 1 and len(mixed.problems) == 3
    for payload in ("text", [1], {"ts": "yesterday", "values": {}}, {"ts": T0 + 10 * 86_400_000, "values": {"a": 1}}):
        with pytest.raises(PayloadError):
            thingsboard_rows(payload, "M1", T0, LATEST)


def test_an_empty_payload_is_no_mistake_and_holds_nothing() -> None:
    """ThingsBoard answers {} with 200; its SDK's connect() relies on that."""
    for payload in ({}, [], [{}], {"ts": T0, "values": {}}):
        out = thingsboard_rows(payload, "M1", T0, LATEST)
        assert (out.count, out.problems) == (0, [])


def test_forewarn_batches_carry_their_own_kind_and_time() -> None:
    out = batch_rows({"readings": [
        {"mn": "M1", "code": "a34002", "field": "Avg", "kind": "hour", "ts": "2026-11-22T07:00:00+08:00", "value": 60},
        {"mn": "M2", "code": "a34041", "ts": T0, "value": 1.2, "flag": "N"},
        {"mn": "M2", "code": "a34041", "ts": T0, "value": "n/a"},
    ]}, LATEST)
    assert out.rows[("M1", Kind.HOUR)] == [("a34002", "Avg", T0 - 3_600_000, 60.0, "N")]
    assert out.rows[("M2", Kind.RTD)] == [("a34041", "Rtd", T0, 1.2, "N")]
    assert out.problems == ["readings[2]: value 'n/a' is not a number"]
    for bad in ({"readings": [{"mn": "M1", "code": "x", "ts": "2026-11-22T07:00", "value": 1}]},
                {"readings": [{"mn": "M1", "code": "x", "kind": "weekly", "ts": T0, "value": 1}]},
                {"rows": []}):
        with pytest.raises(PayloadError):
            batch_rows(bad, LATEST)
