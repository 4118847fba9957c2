"""Turn a decoded data-upload frame into readings. Pure.

Every numeric sub-field of every factor becomes one reading; the factor's ``Flag`` (or the
packet-wide ``Flag=`` some vendors put in CP) is its data flag, N when absent. Sub-fields that
describe a value rather than being one (Flag, EFlag, SampleTime, SN, Info) are not readings.
A value that is not a number is not stored; it is returned as a problem for the caller to
count, and the other values of the frame are stored.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from forewarn.model import KIND_BY_CN, Kind
from forewarn.protocols.hj212.codec import Frame, Hj212Error
from forewarn.store.base import ReadingRow

__all__ = ["DataTimeConverter", "frame_rows"]

META_FIELDS = frozenset({"Flag", "EFlag", "SampleTime", "SN", "Info"})


class DataTimeConverter:
    """yyyyMMddHHmmss in the devices' local time to epoch milliseconds, memoised.

    Thousands of devices report the same few instants, so a small cache saves most of the
    datetime arithmetic on the hot path.
    """

    __slots__ = ("_cache", "tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        ms = self._cache.get(text)
        if ms is not None:
            return ms
        try:
            moment = datetime(
                int(text[0:4]), int(text[4:6]), int(text[6:8]),
                int(text[8:10]), int(text[10:12]), int(text[12:14]), tzinfo=self.tz,
            )
        except ValueError as exc:
            raise Hj212Error("bad_datatime", f"DataTime={text} is not a valid time") from exc
        ms = int(moment.timestamp()) * 1000
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = ms
        return ms


#: No monitoring data predates this (2000-01-01T00:00Z); an earlier DataTime is a device fault.
EARLIEST_MS = 946684800000


def frame_rows(
    frame: Frame, to_ms: DataTimeConverter, latest_ms: int
) -> tuple[Kind, list[ReadingRow], list[str]]:
    """The kind, the reading rows, and a list of problems (values that were not numbers).

    A DataTime before 2000 or after ``latest_ms`` (the platform's clock plus a tolerance)
    refuses the whole frame: such a time is a device's clock fault, and storing it would put
    data where nobody looks for it.
    """
    kind = KIND_BY_CN.get(frame.cn)
    if kind is None:
        raise Hj212Error("not_data", f"CN={frame.cn} carries no readings")
    data_time = frame.params.get("DataTime")
    if data_time is None:
        raise Hj212Error("missing_datatime", f"CN={frame.cn} without DataTime")
    ts = to_ms(data_time)
    if not EARLIEST_MS <= ts <= latest_ms:
        raise Hj212Error(
            "datatime_out_of_range",
            f"DataTime={data_time} is before 2000 or ahead of the platform's clock "
            "(check the device's clock)",
        )
    default_flag = frame.params.get("Flag", "N")
    rows: list[ReadingRow] = []
    append = rows.append
    problems: list[str] = []
    isfinite = math.isfinite
    meta = META_FIELDS
    for code, subs in frame.factors.items():
        flag = subs.get("Flag", default_flag)
        for field, text in subs.items():
            if field in meta:
                continue
            try:
                value = float(text)
            except ValueError:
                problems.append(f"{code}-{field}={text!r} is not a number")
                continue
            if "_" in text or not text.isascii():  # float() reads '1_000' and '٣'; no device means that
                problems.append(f"{code}-{field}={text!r} is not a number")
                continue
            if not isfinite(value):
                problems.append(f"{code}-{field}={text!r} is not a finite number")
                continue
            append((code, field, ts, value, flag))
    return kind, rows, problems
