"""Parse and build one HJ 212 frame. Pure: bytes in, values out, no I/O.

A frame is ``##`` + 4-digit byte length + data segment + 4 hex-digit CRC + CRLF, where the
data segment runs from ``QN=`` (or ``ST=`` in HJ/T 212-2005) to the closing ``&&`` and both
the length and the CRC cover only the segment.

Devices in the field get the framing wrong in a handful of known ways (DOMAIN.md §2). The
parser recognises each of them as a :class:`Quirk` and records it on the frame instead of
failing, because which quirks are tolerated is decided per device, and the device is only
known once the MN inside the frame has been read. :func:`check_quirks` then applies the
device's leniency; :func:`decode` does both with an explicit allow-set (strict by default).
Errors that no leniency can excuse (a CRC that matches no known algorithm, a segment that
cannot be read) raise :class:`Hj212Error` with a reason a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum

from forewarn.protocols.hj212.crc import hj212_crc, modbus_crc, swap_bytes

__all__ = [
    "MAX_SEGMENT",
    "Frame",
    "Hj212Error",
    "Quirk",
    "check_quirks",
    "decode",
    "encode",
    "parse",
    "wrap",
]

#: The standard's maximum data-segment length in bytes.
MAX_SEGMENT = 1024

#: Header fields in the order HJ 212-2017 writes them (PNUM and PNO may come in either order).
HEADER_ORDER = ("QN", "ST", "CN", "PW", "MN", "Flag")
_SPLIT_KEYS = ("PNUM", "PNO")
_HEADER_KEYS = frozenset(HEADER_ORDER + _SPLIT_KEYS)
_HEX = frozenset("0123456789abcdefABCDEF")


class Quirk(StrEnum):
    """A known way real devices deviate from the standard; tolerated only when allowed."""

    CRC_LOWERCASE = "crc_lowercase"
    CRC_NO_LEADING_ZERO = "crc_no_leading_zero"
    CRC_MODBUS = "crc_modbus"
    CRC_MODBUS_SWAPPED = "crc_modbus_swapped"
    LENGTH_MISMATCH = "length_mismatch"
    OVERSIZE = "oversize"
    NO_CRLF = "no_crlf"
    QN_FORMAT = "qn_format"
    DATATIME_MS = "datatime_ms"
    FIELD_ORDER = "field_order"
    GBK = "gbk"


class Hj212Error(ValueError):
    """A frame that cannot be accepted. ``reason`` is a stable code used for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} {detail}".rstrip())
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class Frame:
    """One decoded HJ 212 frame.

    Values are kept as the text the device sent (numbers are converted by the reading
    normaliser), so that building a frame and parsing it again gives back the same frame.
    ``factors`` maps a factor code to its sub-fields (``{"a34002": {"Rtd": "45", "Flag": "N"}}``);
    ``params`` holds CP items that belong to no factor (``DataTime``, ``QnRtn``, ``PolId`` ...).
    """

    st: str
    cn: str
    mn: str
    qn: str | None = None
    pw: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    factors: dict[str, dict[str, str]] = field(default_factory=dict)
    #: quirks found while parsing, each with a detail for the log
    quirks: dict[Quirk, str] = field(default_factory=dict, compare=False)

    @property
    def answer_wanted(self) -> bool:
        """Flag bit A: the device waits for a 9014/9011 answer."""
        return self.flag is not None and bool(self.flag & 1)

    @property
    def split(self) -> bool:
        """Flag bit D, or PNUM/PNO present: one part of a split packet."""
        return (self.flag is not None and bool(self.flag & 2)) or self.pnum is not None

    @property
    def version(self) -> str:
        """The standard the frame claims: 2005, 2017 or 2025 (from the Flag version bits)."""
        if self.flag is None:
            return "2005"
        return {0: "2005", 1: "2017", 2: "2025"}.get(self.flag >> 2, "unknown")


# --------------------------------------------------------------------------------------------
# Building


def wrap(segment: str) -> bytes:
    """Frame a data segment: ``##`` + byte length + segment + HJ 212 CRC + CRLF."""
    body = segment.encode("utf-8")
    if len(body) > 9999:
        raise Hj212Error("oversize", f"segment is {len(body)} bytes; the length field holds 4 digits")
    return b"##%04d%s%04X\r\n" % (len(body), body, hj212_crc(body))


def _cp_text(frame: Frame) -> str:
    items = [f"{k}={v}" for k, v in frame.params.items()]
    items.extend(
        ",".join(f"{code}-{sub}={value}" for sub, value in subs.items())
        for code, subs in frame.factors.items()
    )
    return ";".join(items)


def segment_text(frame: Frame) -> str:
    """The data segment of a frame, fields in the standard's order."""
    head = []
    if frame.qn is not None:
        head.append(f"QN={frame.qn}")
    head.append(f"ST={frame.st}")
    head.append(f"CN={frame.cn}")
    if frame.pw is not None:
        head.append(f"PW={frame.pw}")
    head.append(f"MN={frame.mn}")
    if frame.flag is not None:
        head.append(f"Flag={frame.flag}")
    if frame.pnum is not None:
        head.append(f"PNUM={frame.pnum}")
    if frame.pno is not None:
        head.append(f"PNO={frame.pno}")
    head.append(f"CP=&&{_cp_text(frame)}&&")
    return ";".join(head)


def encode(frame: Frame) -> bytes:
    """Build the bytes of a frame (with CRLF)."""
    return wrap(segment_text(frame))


# --------------------------------------------------------------------------------------------
# Parsing


def decode(raw: bytes, *, allow: Collection[str] = frozenset(), crlf: bool = True) -> Frame:
    """Parse a frame and reject it unless every quirk found is in ``allow`` (strict default)."""
    frame = parse(raw, crlf=crlf)
    check_quirks(frame, allow)
    return frame


def check_quirks(
    frame: Frame, allow: Collection[str], hint: Callable[[Quirk], str] | None = None
) -> None:
    """Raise for the first quirk of ``frame`` that the device is not allowed.

    ``hint`` words which setting would accept the quirk (the platform knows its settings; the
    codec does not), so that the reason a refused frame is counted under says what to change.
    """
    for quirk, detail in frame.quirks.items():
        if quirk not in allow:
            told = hint(quirk) if hint is not None else "allow it in the device's leniency if expected"
            raise Hj212Error(quirk.value, f"{told} ({detail})")  # the setting first: details get cut


def parse(raw: bytes, *, crlf: bool = True, check_crc: bool = True) -> Frame:
    """Parse one frame (``##`` ... CRC, with or without its CRLF), recording quirks.

    ``crlf`` says whether the framing layer saw the CRLF that ends the frame. Without
    ``check_crc`` the CRC is not looked at: only to read who sent a frame already refused for
    its CRC, so that it can be told (9011 with QnRtn=9), never to accept one.
    """
    quirks: dict[Quirk, str] = {}
    if raw.endswith(b"\r\n"):
        raw = raw[:-2]
    elif not crlf:
        quirks[Quirk.NO_CRLF] = "frame not ended by CRLF"
    if not raw.startswith(b"##"):
        raise Hj212Error("bad_header", "frame does not start with ##")

    seg_start, declared = _length_field(raw)
    seg_end = raw.rfind(b"&&")
    cp_at = raw.find(b"CP=&&", seg_start)
    if cp_at < 0:
        raise Hj212Error("missing_cp", "no CP=&& in the data segment")
    if seg_end <= cp_at + 3:
        raise Hj212Error("missing_terminator", "the CP field is not closed by &&")
    seg_end += 2
    segment = raw[seg_start:seg_end]
    crc_text = raw[seg_end:].decode("ascii", "replace")

    actual = len(segment)
    if declared is None or declared != actual:
        shown = raw[2:seg_start].decode("ascii", "replace")
        quirks[Quirk.LENGTH_MISMATCH] = f"declared={shown or '(none)'} actual={actual:04d}"
    if actual > MAX_SEGMENT:
        quirks[Quirk.OVERSIZE] = f"segment is {actual} bytes, the limit is {MAX_SEGMENT}"
    if check_crc:
        _check_crc(segment, crc_text, quirks)

    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = segment.decode("gbk")
        except UnicodeDecodeError as exc:
            raise Hj212Error("bad_encoding", "segment is neither UTF-8 nor GBK text") from exc
        quirks[Quirk.GBK] = "segment is GBK-encoded, not UTF-8"

    frame = _parse_segment(text, quirks)
    frame.quirks = quirks
    return frame


def _length_field(raw: bytes) -> tuple[int, int | None]:
    """Where the segment starts and the declared length (None when unreadable)."""
    digits = 0
    while 2 + digits < len(raw) and 48 <= raw[2 + digits] <= 57 and digits < 4:
        digits += 1
    seg_start = 2 + digits
    declared = int(raw[2:seg_start]) if digits == 4 else None
    return seg_start, declared


def _check_crc(segment: bytes, crc_text: str, quirks: dict[Quirk, str]) -> None:
    expected = hj212_crc(segment)
    want = f"{expected:04X}"
    if crc_text == want:
        return
    if not crc_text or len(crc_text) > 4 or not set(crc_text) <= _HEX:
        raise Hj212Error("bad_crc_field", f"expected={want} got={crc_text!r}")
    got = int(crc_text, 16)
    if crc_text != crc_text.upper():
        quirks[Quirk.CRC_LOWERCASE] = f"CRC written in lowercase: {crc_text}"
    if got == expected:
        if len(crc_text) < 4:
            quirks[Quirk.CRC_NO_LEADING_ZERO] = f"CRC {crc_text} lacks its leading zeros"
        return
    modbus = modbus_crc(segment)
    if got == modbus:
        quirks[Quirk.CRC_MODBUS] = f"CRC {crc_text} is the Modbus CRC, not HJ 212's {want}"
    elif got == swap_bytes(modbus):
        quirks[Quirk.CRC_MODBUS_SWAPPED] = f"CRC {crc_text} is the byte-swapped Modbus CRC"
    else:
        raise Hj212Error(
            "crc_mismatch",
            f"expected={want} got={crc_text}: matches no known CRC (HJ 212, Modbus, byte-swapped Modbus);"
            " no setting accepts it",
        )


def _parse_segment(text: str, quirks: dict[Quirk, str]) -> Frame:
    cp_at = text.find("CP=&&")
    head_text = text[:cp_at].rstrip(";")
    cp_text = text[cp_at + 5 : -2]
    header: dict[str, str] = {}
    order: list[str] = []
    extras: list[str] = []
    for item in head_text.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise Hj212Error("bad_field", f"header item {item!r} has no '='")
        if key in header:
            raise Hj212Error("duplicate_field", f"{key} appears twice")
        if key not in _HEADER_KEYS:
            extras.append(key)
            continue
        header[key] = value
        order.append(key)
    for required in ("ST", "CN", "MN"):
        if required not in header or not header[required]:
            raise Hj212Error("missing_field", f"{required} is missing or empty")
    ranks = [HEADER_ORDER.index(k) if k in HEADER_ORDER else len(HEADER_ORDER) for k in order]
    if ranks != sorted(ranks):
        quirks[Quirk.FIELD_ORDER] = f"header fields in order {','.join(order)}"
    if extras:
        raise Hj212Error("unknown_field", f"unknown header field(s) {','.join(extras)}")

    qn = header.get("QN")
    if qn is not None and (len(qn) != 17 or not _digits(qn)):
        quirks[Quirk.QN_FORMAT] = f"QN {qn!r} is not 17 digits (yyyyMMddHHmmssSSS)"
    params, factors = parse_cp(cp_text, quirks)
    return Frame(
        st=header["ST"],
        cn=header["CN"],
        mn=header["MN"],
        qn=qn,
        pw=header.get("PW"),
        flag=_int_field(header, "Flag"),
        pnum=_int_field(header, "PNUM"),
        pno=_int_field(header, "PNO"),
        params=params,
        factors=factors,
    )


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts '²' and other digits int() refuses."""
    return text.isascii() and text.isdigit()


def _int_field(header: dict[str, str], key: str) -> int | None:
    value = header.get(key)
    if value is None:
        return None
    if not _digits(value):
        raise Hj212Error(f"bad_{key.lower()}", f"{key}={value!r} is not a number")
    return int(value)


def parse_cp(
    cp: str, quirks: dict[Quirk, str] | None = None
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Split a CP body into parameters and per-factor sub-fields.

    Items are separated by ``;``, values of one item by ``,``, a name from its value by the
    first ``=``; text between ``//`` and ``//`` is taken as it stands (the standard's only
    quoting). A ``DataTime`` with milliseconds is recorded as a quirk and cut to seconds.
    """
    params: dict[str, str] = {}
    factors: dict[str, dict[str, str]] = {}
    for pair in _cp_pairs(cp):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise Hj212Error("bad_cp", f"CP item {pair!r} is not name=value")
        code, dash, sub = key.partition("-")
        if dash and code and sub:
            subs = factors.get(code)
            if subs is None:
                subs = factors[code] = {}
            elif sub in subs:
                raise Hj212Error("duplicate_field", f"{key} appears twice in CP")
            subs[sub] = value
        elif key in params:
            raise Hj212Error("duplicate_field", f"{key} appears twice in CP")
        elif key == "DataTime":
            params[key] = _check_datatime(value, quirks)
        else:
            params[key] = value
    return params, factors


def _check_datatime(value: str, quirks: dict[Quirk, str] | None) -> str:
    if len(value) == 14 and _digits(value):
        return value
    if len(value) == 17 and _digits(value):
        if quirks is not None:
            quirks[Quirk.DATATIME_MS] = f"DataTime {value} carries milliseconds"
        return value[:14]
    raise Hj212Error("bad_datatime", f"DataTime={value!r} is not yyyyMMddHHmmss")


def _cp_pairs(cp: str) -> list[str]:
    """The name=value pairs of a CP body, honouring //free text//."""
    if "//" not in cp:
        return [p for item in cp.split(";") for p in item.split(",") if p]
    pairs: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(cp):
        if cp.startswith("//", i):
            close = cp.find("//", i + 2)
            if close < 0:
                raise Hj212Error("bad_cp", "free text opened by // is not closed")
            current.append(cp[i : close + 2])
            i = close + 2
            continue
        ch = cp[i]
        if ch in ";,":
            if current:
                pairs.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if current:
        pairs.append("".join(current))
    return pairs
