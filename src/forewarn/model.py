"""Domain types shared by every layer.

A *reading* is the one thing every protocol adapter produces: which device sent it, which
factor code and sub-field it belongs to, which kind of data (real-time, minute, ...), when it
was sampled, its value and its HJ 212 data flag. Everything downstream speaks readings.
"""

from __future__ import annotations

from dataclasses import dataclass
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

#: The HJ 212 data flags (N normal is the only one valid for exceedance judgement).
DATA_FLAGS: dict[str, str] = {
    "N": "normal",
    "F": "instrument stopped",
    "M": "maintenance",
    "S": "manual / set value",
    "D": "fault",
    "C": "calibration",
    "T": "above range",
    "B": "communication abnormal",
    "P": "power fault (HJ/T 212-2005)",
}


@dataclass(slots=True, frozen=True)
class Reading:
    """One value of one sub-field of one factor of one device at one instant.

    ``ts_ms`` is the sampling instant (or period start for aggregates) in Unix epoch
    milliseconds, UTC; the device's local wall-clock time has been converted already.
    """

    mn: str
    code: str
    field: str
    kind: Kind
    ts_ms: int
    value: float
    flag: str = "N"
