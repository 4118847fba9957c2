"""The HJ 212 codec against the standard's examples, packets from the field, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.protocols.hj212.codec import Frame, Hj212Error, Quirk, decode, encode, parse, wrap
from forewarn.protocols.hj212.crc import hj212_crc, hj212_crc_bytewise, modbus_crc, swap_bytes
from tests.conftest import FieldPacket

APPENDIX_A = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)
_ALL = frozenset(Quirk)
_FRAMING_QUIRKS = {Quirk.LENGTH_MISMATCH, Quirk.CRC_MODBUS, Quirk.CRC_MODBUS_SWAPPED}


def test_crc_check_values_from_the_standard() -> None:
    assert hj212_crc(b"") == 0xFFFF
    assert hj212_crc(b"123456789") == 0x2F80


def test_hj212_crc_is_not_the_modbus_crc() -> None:
    assert modbus_crc(b"123456789") == 0x4B37
    assert hj212_crc(b"123456789") != modbus_crc(b"123456789")


def test_appendix_a_example_decodes_strictly() -> None:
    frame = decode(APPENDIX_A)
    assert (frame.qn, frame.st, frame.cn, frame.pw, frame.mn) == (
        "20160801085857223", "32", "1062", "100000", "010000A8900016F000169DC0")
    assert frame.flag == 5 and frame.answer_wanted and frame.version == "2017"
    assert frame.params == {"RtdInterval": "30"}


def test_golden_packets_round_trip_byte_for_byte(golden_packets: list[bytes]) -> None:
    for packet in golden_packets:
        frame = decode(packet + b"\r\n")
        assert encode(frame) == packet + b"\r\n"


def test_field_packets_labelled_crc_ok_have_right_length_and_crc(
    field_packets: list[FieldPacket],
) -> None:
    ok = [p for p in field_packets if p.label == "crc_ok"]
    assert len(ok) > 30
    for p in ok:
        frame = parse(p.packet)
        assert not (set(frame.quirks) & _FRAMING_QUIRKS), (p.source, frame.quirks)
        decode(p.packet, allow=_ALL)


def test_field_packets_labelled_crc_bad_are_rejected_or_flagged(
    field_packets: list[FieldPacket],
) -> None:
    bad = [p for p in field_packets if p.label == "crc_bad"]
    assert bad
    for p in bad:
        try:
            frame = parse(p.packet)
        except Hj212Error:
            continue
        assert set(frame.quirks) & (_FRAMING_QUIRKS | {Quirk.OVERSIZE}), p.source
        with pytest.raises(Hj212Error):
            decode(p.packet)  # strict by default


def test_electricity_monitor_subfields_are_parsed(field_packets: list[FieldPacket]) -> None:
    power = next(p for p in field_packets if b"ST=80" in p.packet and b"100000-Ia" in p.packet)
    frame = decode(power.packet)
    assert frame.factors["100000"]["Ia"] == "401.400"
    assert frame.factors["100000"]["Ept"] == "162762.484"
    assert frame.factors["100000"]["Flag"] == "N"


def test_crc_mismatch_names_expected_and_received_values() -> None:
    bad = APPENDIX_A.replace(b"1C80", b"1C08")
    with pytest.raises(Hj212Error) as err:
        decode(bad)
    assert err.value.reason == "crc_mismatch"
    assert str(err.value).startswith("crc_mismatch expected=1C80 got=1C08: matches no known CRC")
    assert err.value.detail.endswith("no setting accepts it")  # the reason says so: nothing to allow


def _segment(cp: str = "DataTime=20231008123340;a34002-Rtd=45.2,a34002-Flag=N") -> str:
    return f"QN=20231008123340461;ST=22;CN=2011;PW=123456;MN=MN0001;Flag=5;CP=&&{cp}&&"


@pytest.mark.parametrize(
    ("mutate", "quirk"),
    [
        (lambda s, c: b"##%04d%s%s\r\n" % (len(s), s, c.lower()), Quirk.CRC_LOWERCASE),
        (lambda s, c: b"##%04d%s%04X\r\n" % (len(s), s, modbus_crc(s)), Quirk.CRC_MODBUS),
        (lambda s, c: b"##%04d%s%04X\r\n" % (len(s), s, swap_bytes(modbus_crc(s))),
         Quirk.CRC_MODBUS_SWAPPED),
        (lambda s, c: b"##%04d%s%s\r\n" % (len(s) + 3, s, c), Quirk.LENGTH_MISMATCH),
        (lambda s, c: b"##%d%s%s\r\n" % (len(s), s, c), Quirk.LENGTH_MISMATCH),
        (lambda s, c: b"##%04d%s%s" % (len(s), s, c), Quirk.NO_CRLF),
    ],
)
def test_each_framing_quirk_is_refused_strictly_and_accepted_when_allowed(
    mutate: object, quirk: Quirk
) -> None:
    seg = _segment().encode()
    crc = b"%04X" % hj212_crc(seg)
    raw = mutate(seg, crc)  # type: ignore[operator]
    crlf = raw.endswith(b"\r\n")
    if not crc.upper().strip(b"0123456789") and quirk is Quirk.CRC_LOWERCASE:
        pytest.skip("this CRC has no letters")
    with pytest.raises(Hj212Error) as err:
        decode(raw, crlf=crlf)
    assert err.value.reason == quirk.value
    frame = decode(raw, allow=frozenset({quirk}), crlf=crlf)
    assert quirk in frame.quirks
    assert frame.factors["a34002"]["Rtd"] == "45.2"


def test_qn_of_13_digits_and_datatime_with_milliseconds_are_quirks() -> None:
    seg = _segment("DataTime=20231008123340123;a34002-Rtd=1").replace(
        "QN=20231008123340461", "QN=1617957600465")
    frame = parse(wrap(seg))
    assert set(frame.quirks) == {Quirk.QN_FORMAT, Quirk.DATATIME_MS}
    assert frame.params["DataTime"] == "20231008123340"


def test_fields_out_of_order_is_a_quirk() -> None:
    seg = "QN=20231008123340461;ST=22;CN=2011;MN=MN0001;PW=123456;Flag=5;CP=&&DataTime=20231008123340&&"
    with pytest.raises(Hj212Error) as err:
        decode(wrap(seg))
    assert err.value.reason == "field_order"


def test_segment_over_1024_bytes_is_oversize() -> None:
    cp = "DataTime=20231008123340;" + ";".join(f"a{i:05d}-Rtd=1.000" for i in range(80))
    frame = parse(wrap(_segment(cp)))
    assert Quirk.OVERSIZE in frame.quirks


def test_length_counts_bytes_not_characters() -> None:
    seg = _segment("DataTime=20231008123340;i12001-Info=//设备正常//")
    raw = wrap(seg)
    assert raw[2:6] == b"%04d" % len(seg.encode("utf-8"))
    assert len(seg) != len(seg.encode("utf-8"))
    frame = decode(raw)
    assert frame.factors["i12001"]["Info"] == "//设备正常//"


def test_gbk_text_is_a_quirk() -> None:
    seg = _segment("DataTime=20231008123340;i12001-Info=//设备正常//").encode("gbk")
    raw = b"##%04d%s%04X\r\n" % (len(seg), seg, hj212_crc(seg))
    frame = decode(raw, allow=frozenset({Quirk.GBK}))
    assert frame.factors["i12001"]["Info"] == "//设备正常//"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"hello", "bad_header"),
        (b"##0010QN=1;ST=1&&FFFF", "missing_cp"),
        (wrap("QN=20231008123340461;ST=22;CN=2011;PW=1;Flag=5;CP=&&&&"), "missing_field"),
        (wrap("QN=20231008123340461;ST=22;CN=2011;PW=1;MN=X;Flag=x;CP=&&&&"), "bad_flag"),
        (wrap("QN=20231008123340461;ST=22;CN=2011;PW=1;MN=X;Flag=5;CP=&&DataTime=2023&&"),
         "bad_datatime"),
        (wrap("QN=20231008123340461;ST=22;CN=2011;PW=1;MN=X;Flag=5;CP=&&a-Rtd=1,a-Rtd=2&&"),
         "duplicate_field"),
        (wrap("QN=20231008123340461;ST=22;CN=2011;PW=1;MN=X;Flag=5;CP=&&novalue&&"), "bad_cp"),
        (b"##0021QN=1;ST=1;CP=&&a=1&&ZZZZ\r\n", "bad_crc_field"),
    ],
)
def test_broken_frames_raise_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(Hj212Error) as err:
        parse(raw)
    assert err.value.reason == reason


# ----------------------------------------------------------------------------- properties

_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.", min_size=1, max_size=12)
_value = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["N", "D", "M", "C", "0", "1"]),
)
_factors = st.dictionaries(
    _text.filter(lambda s: "-" not in s),
    st.dictionaries(st.sampled_from(["Rtd", "Avg", "Min", "Max", "Cou", "ZsRtd", "Flag", "Ia", "Pt"]),
                    _value, min_size=1, max_size=4),
    max_size=6,
)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    return Frame(
        st=draw(st.sampled_from(["21", "22", "31", "32", "39", "80", "91", "A1"])),
        cn=draw(st.sampled_from(["2011", "2051", "2061", "2031", "2021", "1013", "9014"])),
        mn=draw(_text),
        qn=draw(st.one_of(st.none(), st.from_regex(r"\A[0-9]{17}\Z"))),
        pw=draw(st.one_of(st.none(), _text)),
        flag=draw(st.one_of(st.none(), st.integers(0, 11))),
        pnum=draw(st.one_of(st.none(), st.integers(1, 99))),
        pno=draw(st.one_of(st.none(), st.integers(1, 99))),
        params=draw(st.dictionaries(st.sampled_from(["DataTime", "RtdInterval", "QnRtn", "PolId"]),
                                    st.from_regex(r"\A[0-9]{14}\Z"), max_size=2)),
        factors=draw(_factors),
    )


@settings(max_examples=300, deadline=None)
@given(frames())
def test_build_then_parse_gives_back_the_same_frame(frame: Frame) -> None:
    raw = encode(frame)
    parsed = parse(raw)
    assert parsed == frame
    assert not set(parsed.quirks) - {Quirk.OVERSIZE}


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_the_codec_error(data: bytes) -> None:
    try:
        parse(data)
    except Hj212Error:
        pass


@settings(max_examples=500, deadline=None)
@given(frames(), st.integers(0, 2000), st.binary(min_size=1, max_size=3))
def test_corrupted_frames_raise_only_the_codec_error(frame: Frame, at: int, junk: bytes) -> None:
    raw = bytearray(encode(frame))
    pos = at % len(raw)
    raw[pos : pos + len(junk)] = junk
    try:
        parse(bytes(raw))
    except Hj212Error:
        pass


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_fast_crc_equals_the_byte_at_a_time_reference(data: bytes) -> None:
    assert hj212_crc(data) == hj212_crc_bytewise(data)


_any_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=";=,&"), max_size=8
)


@settings(max_examples=500, deadline=None)
@given(_any_text, _any_text, _any_text, _any_text, _any_text)
def test_frames_with_valid_crc_and_any_text_raise_only_the_codec_error(
    qn: str, flag: str, pnum: str, datatime: str, value: str
) -> None:
    """Random bytes rarely pass the CRC; these do, so the parser's inner checks are reached."""
    segment = (f"QN={qn};ST=22;CN=2011;PW=1;MN=M;Flag={flag};PNUM={pnum};PNO=1;"
               f"CP=&&DataTime={datatime};a34002-Rtd={value}&&")
    try:
        parse(wrap(segment))
    except Hj212Error:
        pass
