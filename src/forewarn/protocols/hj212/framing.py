"""Cut a TCP byte stream into HJ 212 frames. Pure: no sockets, no clocks.

TCP delivers bytes, not frames: one read may hold half a frame or several frames. A frame
normally ends with CRLF, and its declared length tells where the data segment ends, but
devices in the field send wrong lengths and forget the CRLF, so both are used: the declared
length first (when the segment it points at ends with ``&&`` and is followed by a CRC), then
the next CRLF, then the next ``##``. Bytes before a ``##`` are garbage and are counted.

Frames are taken one at a time (:meth:`StreamFramer.next_frame`), so that a connection can
stop in the middle of a read (its writer queue is full, or it was cut off) and leave the rest
unread. Every search looks at most ``max_frame`` bytes ahead, so a read of 256 KB holding
thousands of small frames costs linear time, not quadratic.

A frame whose CRLF has not come yet is taken without it only when it is complete by its
declared length (:meth:`StreamFramer.unterminated`): a cellular link that delivers the last
bytes of a frame a second late must not have its frame cut at a CRC digit.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FrameTooLarge", "RawFrame", "StreamFramer"]

_HEXB = frozenset(b"0123456789abcdefABCDEF")
_WHITESPACE = b" \t\r\n\x00"


@dataclass(slots=True, frozen=True)
class RawFrame:
    """The bytes of one frame from ``##`` to the CRC, and whether its CRLF was seen."""

    data: bytes
    crlf: bool


class FrameTooLarge(Exception):
    """More bytes than ``max_frame`` arrived without a frame ending: the peer is not HJ 212."""


class StreamFramer:
    """Accumulates bytes of one connection and yields whole frames."""

    __slots__ = ("_buf", "garbage_bytes", "max_frame", "noise_bytes")

    def __init__(self, max_frame: int = 8192) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame
        #: bytes thrown away because they were not inside a frame
        self.garbage_bytes = 0
        #: whitespace between frames (a stray LF after CRLF, NUL padding): dropped, not garbage
        self.noise_bytes = 0

    def _discard(self, count: int) -> None:
        chunk = self._buf[:count]
        if chunk.strip(_WHITESPACE):
            self.garbage_bytes += count
        else:
            self.noise_bytes += count
        del self._buf[:count]

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def head(self, count: int) -> bytes:
        """The first ``count`` bytes held (to show what a peer left unfinished)."""
        return bytes(self._buf[:count])

    def discard_all(self) -> None:
        """Forget everything held, unread (the connection is being cut off)."""
        self._buf.clear()

    def feed(self, data: bytes) -> list[RawFrame]:
        """Add bytes; return the frames they complete. Raises FrameTooLarge."""
        self.push(data)
        frames: list[RawFrame] = []
        while (frame := self.next_frame()) is not None:
            frames.append(frame)
        return frames

    def push(self, data: bytes) -> None:
        """Add bytes without cutting frames yet (see :meth:`next_frame`)."""
        self._buf += data

    def next_frame(self) -> RawFrame | None:
        """The next whole frame held, or None until more bytes come. Raises FrameTooLarge."""
        buf = self._buf
        while True:
            start = buf.find(b"##")
            if start < 0:
                self._discard(len(buf) - (1 if buf.endswith(b"#") else 0))
                return None
            if start:
                self._discard(start)
            end, crlf = self._frame_end(buf, self.max_frame + 2)
            if end < 0:
                if len(buf) > self.max_frame:
                    self.garbage_bytes += len(buf)
                    buf.clear()
                    raise FrameTooLarge(f"no frame end within {self.max_frame} bytes")
                return None
            frame = RawFrame(bytes(buf[:end]), crlf)
            del buf[: end + 2 if crlf else end]
            return frame

    def unterminated(self, *, trust_length: bool = True) -> RawFrame | None:
        """The pending frame, if it may be taken although its CRLF has not come (or None).

        With ``trust_length`` (what a connection asks after a quiet spell) that is a frame
        complete by its declared length: the length points at ``&&`` and 4 hex CRC digits, and
        at most a CR follows. A declared length not yet reached means more is coming, so
        nothing is taken. Only where the length field is unusable (not 4 digits, or pointing
        elsewhere) is a buffer that looks complete (``CP=&&`` ... ``&&`` and 2-4 hex digits)
        taken. Without ``trust_length`` (the frame's time is up) a buffer that looks complete
        is taken even if its length says more was to come: a wrong length, not a late tail.
        Nothing is removed; :meth:`take_unterminated` does that.
        """
        buf = self._buf
        if not buf.startswith(b"##"):
            return None
        head = buf[2:6]
        if len(head) == 4 and head.isdigit():
            seg_end = 6 + int(head)
            crc_end = seg_end + 4
            if len(buf) < crc_end and trust_length:
                return None  # the declared length is not reached: the rest is on its way
            if (
                len(buf) >= crc_end
                and buf[seg_end - 2 : seg_end] == b"&&"
                and all(b in _HEXB for b in buf[seg_end:crc_end])
            ):
                rest = bytes(buf[crc_end:])
                return RawFrame(bytes(buf[:crc_end]), False) if rest in (b"", b"\r") else None
        body = buf[:-1] if buf.endswith(b"\r") else buf
        closing = body.rfind(b"&&")
        crc = body[closing + 2 :]
        # complete-looking: the CP was opened and closed, and only a CRC follows the close
        if closing < 0 or body.find(b"CP=&&") + 3 >= closing or not 2 <= len(crc) <= 4:
            return None
        if not all(b in _HEXB for b in crc):
            return None
        return RawFrame(bytes(body), False)

    def take_unterminated(self, *, trust_length: bool = True) -> list[RawFrame]:
        """Remove and return what :meth:`unterminated` offers (a trailing CR goes with it)."""
        frame = self.unterminated(trust_length=trust_length)
        if frame is None:
            return []
        self._buf.clear()
        return [frame]

    def flush_unterminated(self) -> list[RawFrame]:
        """A pending frame complete by its declared length whose CRLF has not come."""
        return self.take_unterminated()

    def flush(self) -> list[RawFrame]:
        """At end of stream: whatever starts with ``##`` is a last frame without CRLF."""
        buf = self._buf
        frames = [RawFrame(bytes(buf), False)] if buf.startswith(b"##") and len(buf) > 6 else []
        if frames:
            buf.clear()
        else:
            self._discard(len(buf))
        return frames

    @staticmethod
    def _frame_end(buf: bytearray, window: int) -> tuple[int, bool]:
        """Index just past the CRC of the frame at buf[0], and whether CRLF follows; -1 if unknown.

        Looks at most ``window`` bytes ahead: a frame cannot be longer than that.
        """
        size = len(buf)
        head = buf[2:6]
        crlf_at = buf.find(b"\r\n", 2, window)
        if len(head) == 4 and head.isdigit():
            seg_end = 6 + int(head)
            crc_end = seg_end + 4
            if (
                size >= crc_end
                and buf[seg_end - 2 : seg_end] == b"&&"
                and all(b in _HEXB for b in buf[seg_end:crc_end])
            ):
                tail = buf[crc_end : crc_end + 2]
                if tail == b"\r\n":
                    return crc_end, True
                if len(tail) == 2:  # something other than CRLF follows: the device sent none
                    return crc_end, False
                return -1, False  # the CRLF may be in the next read
            if size < crc_end + 2 and crlf_at < 0:
                return -1, False  # the frame the length announces has not all arrived yet
        # The declared length is wrong: use CRLF, then the next ##.
        next_start = buf.find(b"##", 2, window)
        if next_start >= 0 and (crlf_at < 0 or next_start < crlf_at):
            return next_start, False
        if crlf_at >= 0:
            return crlf_at, True
        return -1, False
