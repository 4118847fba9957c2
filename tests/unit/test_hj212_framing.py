"""Cutting a TCP byte stream into frames, however the bytes arrive."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.protocols.hj212.codec import wrap
from forewarn.protocols.hj212.framing import FrameTooLarge, StreamFramer

SEG = "QN=20231008123340461;ST=22;CN=2011;PW=123456;MN=MN0001;Flag=5;CP=&&DataTime=20231008123340;a34002-Rtd={v}&&"


def packets(n: int) -> list[bytes]:
    return [wrap(SEG.format(v=i)) for i in range(n)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=40))
def test_frames_split_anyhow_across_reads_come_out_whole(cuts: list[int]) -> None:
    stream = b"".join(packets(5))
    framer = StreamFramer()
    out = []
    pos = 0
    for cut in cuts:
        out += framer.feed(stream[pos : pos + cut])
        pos += cut
    out += framer.feed(stream[pos:])
    assert [f.data + b"\r\n" for f in out] == packets(5)
    assert all(f.crlf for f in out)
    assert framer.garbage_bytes == 0


def test_several_frames_in_one_read() -> None:
    framer = StreamFramer()
    assert len(framer.feed(b"".join(packets(10)))) == 10


def test_garbage_between_frames_is_skipped_and_counted() -> None:
    framer = StreamFramer()
    out = framer.feed(b"hello" + packets(1)[0] + b"\x00\xff" + packets(1)[0])
    assert len(out) == 2
    assert framer.garbage_bytes == 7


def test_frames_without_crlf_are_cut_at_the_next_frame() -> None:
    framer = StreamFramer()
    a, b = (p[:-2] for p in packets(2))
    out = framer.feed(a + b)
    assert [f.data for f in out] == [a]
    assert out[0].crlf is False
    assert framer.flush_unterminated()[0].data == b


def test_wrong_length_falls_back_to_crlf() -> None:
    framer = StreamFramer()
    good = packets(1)[0]
    wrong = b"##9999" + good[6:]
    out = framer.feed(wrong + good)
    assert [f.data for f in out] == [wrong[:-2], good[:-2]]


def test_endless_frame_raises() -> None:
    framer = StreamFramer(max_frame=100)
    try:
        framer.feed(b"##0500" + b"x" * 200)
    except FrameTooLarge:
        pass
    else:
        raise AssertionError("expected FrameTooLarge")
    assert framer.pending == 0


def test_incomplete_frame_waits_for_more() -> None:
    framer = StreamFramer()
    p = packets(1)[0]
    assert framer.feed(p[:-5]) == []
    assert framer.flush_unterminated() == []  # not complete yet: keep waiting
    assert len(framer.feed(p[-5:])) == 1


def test_a_frame_whose_last_bytes_are_late_is_waited_for_not_cut() -> None:
    """A cellular link delivers the last CRC digits or the CRLF a second late (issue 12, item 8)."""
    p = packets(1)[0]
    for late in range(1, 7):  # 1-4 CRC digits and/or the CRLF still on their way
        framer = StreamFramer()
        assert framer.feed(p[:-late]) == []
        if late > 2:  # the declared length is not reached yet: nothing may be taken
            assert framer.unterminated() is None
            assert framer.take_unterminated() == []
        out = framer.feed(p[-late:])
        assert [(f.data, f.crlf) for f in out] == [(p[:-2], True)], late
        assert framer.garbage_bytes == 0 and framer.pending == 0


def test_only_a_frame_complete_by_its_length_is_taken_without_crlf() -> None:
    p = packets(1)[0]
    for tail in (b"", b"\r"):
        framer = StreamFramer()
        framer.feed(p[:-2] + tail)
        [frame] = framer.take_unterminated()
        assert (frame.data, frame.crlf) == (p[:-2], False)
        assert framer.pending == 0


def test_a_wrong_length_without_crlf_is_taken_only_when_the_frame_time_is_up() -> None:
    good = packets(1)[0][:-2]
    stale = b"##9999" + good[6:]  # says more is coming; it never will
    framer = StreamFramer()
    framer.feed(stale)
    assert framer.unterminated() is None
    [frame] = framer.take_unterminated(trust_length=False)
    assert frame.data == stale
    short = b"##0010" + good[6:]  # a length that points nowhere near a CRC: unusable
    framer.feed(short)
    assert [f.data for f in framer.take_unterminated()] == [short]


def test_frames_are_taken_one_at_a_time_and_the_rest_waits() -> None:
    framer = StreamFramer()
    framer.push(b"".join(packets(3)))
    first = framer.next_frame()
    assert first is not None and first.data == packets(1)[0][:-2]
    assert framer.pending == sum(map(len, packets(3))) - len(packets(1)[0])
    assert len(framer.feed(b"")) == 2
