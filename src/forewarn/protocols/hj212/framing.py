"""Cut a TCP byte stream into HJ 212 frames. Pure: no sockets, no clocks.

TCP delivers bytes, not frames: one read may hold half a frame or several frames. A frame
normally ends with CRLF, and its declared length tells where the data segment ends, but
devices in the field send wrong lengths and forget the CRLF, so both are used: the declared
length first (when the segment it points at ends with ``&&`` and is followed by a CRC), then
the next CRLF, then the next ``##``. Bytes before a ``##`` are garbage and are counted.
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

    def feed(self, data: bytes) -> list[RawFrame]:
        """Add bytes; return the frames they complete. Raises FrameTooLarge."""
        buf = self._buf
        buf += data
        frames: list[RawFrame] = []
        while True:
            start = buf.find(b"##")
            if start < 0:
                self._discard(len(buf) - (1 if buf.endswith(b"#") else 0))
                break
            if start:
                self._discard(start)
            end, crlf = self._frame_end(buf)
            if end < 0:
                if len(buf) > self.max_frame:
                    self.garbage_bytes += len(buf)
                    buf.clear()
                    raise FrameTooLarge(f"no frame end within {self.max_frame} bytes")
                break
            frames.append(RawFrame(bytes(buf[:end]), crlf))
            del buf[: end + 2 if crlf else end]
        return frames

    def flush_unterminated(self) -> list[RawFrame]:
        """A pending frame whose length and CRC are complete but whose CRLF never came.

        Called by the connection after a quiet spell, so that a device that sends no CRLF
        still gets its answer without waiting for its next frame.
        """
        buf = self._buf
        if not buf.startswith(b"##"):
            return []
        closing = buf.rfind(b"&&")
        crc = buf[closing + 2 :]
        # complete-looking: the CP was opened and closed, and only a CRC follows the close
        if closing < 0 or buf.find(b"CP=&&") + 3 >= closing or not 2 <= len(crc) <= 4:
            return []
        if not all(b in _HEXB for b in crc):
            return []
        frame = RawFrame(bytes(buf), False)
        buf.clear()
        return [frame]

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
    def _frame_end(buf: bytearray) -> tuple[int, bool]:
        """Index just past the CRC of the frame at buf[0], and whether CRLF follows; -1 if unknown."""
        size = len(buf)
        head = buf[2:6]
        crlf_at = buf.find(b"\r\n", 2)
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
        next_start = buf.find(b"##", 2)
        if next_start >= 0 and (crlf_at < 0 or next_start < crlf_at):
            return next_start, False
        if crlf_at >= 0:
            return crlf_at, True
        return -1, False
