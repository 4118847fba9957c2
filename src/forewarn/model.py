"""Domain types shared by every layer.

A *reading* is the one thing every protocol adapter produces: which device sent it, which
factor code and sub-field it belongs to, which kind of data (real-time, minute, ...), when it
was sampled, its value and its HJ 212 data flag (see ``store.base.ReadingRow``). Each kind is
kept in its own table.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """The granularity of a reading; each kind is kept in its own table."""

    RTD = "rtd"  # CN 2011, real-time
    MINUTE = "minute"  # CN 2051
    HOUR = "hour"  # CN 2061
    DAY = "day"  # CN 2031
    STATUS = "status"  # CN 2021, facility running status (SBx-RS)
    RUNTIME = "runtime"  # CN 2041, facility daily running time (SBx-RT)


#: HJ 212 data-upload commands and the kind of reading each carries.
KIND_BY_CN: dict[str, Kind] = {
    "2011": Kind.RTD,
    "2051": Kind.MINUTE,
    "2061": Kind.HOUR,
    "2031": Kind.DAY,
    "2021": Kind.STATUS,
    "2041": Kind.RUNTIME,
}
