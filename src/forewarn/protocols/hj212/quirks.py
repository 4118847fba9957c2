"""Which known deviations are tolerated, for whom, and which setting would accept a refused one.

Pure data and two small functions; no I/O. The codec (:mod:`.codec`) records every known
deviation a frame has as a :class:`~forewarn.protocols.hj212.codec.Quirk`; this module says
what the platform does with it.

The field (../shared/samples/hj212-field-packets.txt) writes CRCs in lowercase, QNs of 13
digits, DataTime with milliseconds. Refusing those by default loses good data from devices
nobody can reconfigure, while accepting them costs nothing in integrity: the HJ 212 CRC is
still verified over the segment and every value still has to parse. So the default
tolerates every deviation that leaves the frame so checked (:data:`TOLERATED_BY_DEFAULT`).
The rest stay refused until a deployer accepts them for one device, because with them the
frame's own checks no longer hold as the standard means them: a CRC computed by another
algorithm (the Modbus CRC, or its bytes swapped: the sample file counts those frames as bad),
or a length field that does not match the segment.

A device's ``leniency`` (the registry column) is a ``|``-separated list of quirk names, plus
the word ``strict``: without ``strict`` the device gets the default and whatever it lists;
with it, only what it lists. The platform's ``hj212_strict`` setting makes ``strict`` the
default for every device.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from forewarn.protocols.hj212.codec import Quirk

__all__ = [
    "LENIENCY_WORDS",
    "QUIRKS",
    "STRICT",
    "TOLERATED_BY_DEFAULT",
    "QuirkInfo",
    "allowed_quirks",
    "refusal_hint",
]

#: The leniency word that takes a device off the tolerant default.
STRICT = "strict"

@dataclass(frozen=True, slots=True)
class QuirkInfo:
    """One known deviation: whether the default tolerates it, and why (or why not)."""

    quirk: Quirk
    by_default: bool
    why: str


#: Every known deviation, with the reason for its default (DOMAIN.md §2, the field samples).
QUIRKS: tuple[QuirkInfo, ...] = (
    QuirkInfo(Quirk.CRC_LOWERCASE, True, "the HJ 212 CRC, verified; only its letters' case differs"),
    QuirkInfo(Quirk.CRC_NO_LEADING_ZERO, True, "the HJ 212 CRC, verified; written without its leading zeros"),
    QuirkInfo(Quirk.QN_FORMAT, True, "the QN only names the exchange (answers echo it); the CRC covers it"),
    QuirkInfo(Quirk.DATATIME_MS, True, "the time still parses; the milliseconds are dropped"),
    QuirkInfo(Quirk.FIELD_ORDER, True, "fields are read by name; the CRC covers them"),
    QuirkInfo(Quirk.GBK, True, "the CRC covers the bytes; the text decodes as GBK"),
    QuirkInfo(Quirk.OVERSIZE, True, "the length field and the CRC still agree with the segment"),
    QuirkInfo(Quirk.NO_CRLF, True, "the length and the CRC still agree; the frame is taken when complete"),
    QuirkInfo(Quirk.CRC_MODBUS, False, "another algorithm's CRC: accept it only for a device known to send it"),
    QuirkInfo(Quirk.CRC_MODBUS_SWAPPED, False, "another algorithm's CRC: accept it only for a device known to send it"),
    QuirkInfo(Quirk.LENGTH_MISMATCH, False, "the length field disagrees with the segment: a framing check fails"),
)

#: What a device without ``strict`` in its leniency is allowed, on a platform not strict.
TOLERATED_BY_DEFAULT: frozenset[str] = frozenset(q.quirk.value for q in QUIRKS if q.by_default)

#: Every word a device's leniency may hold.
LENIENCY_WORDS: frozenset[str] = frozenset({q.value for q in Quirk} | {STRICT})

_BY_DEFAULT = {q.quirk: q.by_default for q in QUIRKS}


def allowed_quirks(leniency: Collection[str], platform_strict: bool) -> frozenset[str]:
    """The quirks a device with this ``leniency`` may send on this platform."""
    listed = frozenset(leniency) - {STRICT}
    if platform_strict or STRICT in leniency:
        return listed
    return TOLERATED_BY_DEFAULT | listed


def refusal_hint(quirk: Quirk, leniency: Collection[str], platform_strict: bool) -> str:
    """Which setting would accept a frame refused for ``quirk``, in words a deployer can act on.

    Short: the rejection's detail is cut at 120 characters, and this comes first in it.
    """
    name = quirk.value
    if not _BY_DEFAULT.get(quirk, False):
        return f"accepted if the device's leniency lists {name}"
    if STRICT in leniency:
        return f"this device is strict: list {name} in its leniency, or drop strict"
    if platform_strict:
        return f"hj212_strict is on: list {name} in the device's leniency, or set it to 0"
    return f"accepted if the device's leniency lists {name}"  # not reached: a default quirk is allowed
