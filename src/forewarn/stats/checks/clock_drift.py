"""A device whose clock drifts: its packets' DataTime moves away from when they arrive.

The HJ 212 handler notes, per device and hour of receipt, the smallest receive time minus
DataTime (``packet_clock``): the smallest, because a re-send or a backfill only ever adds
delay, so the minimum is the clock's own offset plus the network's small delay (and, for
minute or hour data, the period, DataTime being its start). Two findings come from it:

- *offset*: real-time data stamped more than ``tolerance_s`` away from its receipt, or any
  data stamped after it arrived by more than that (a clock ahead), in ``min_offset_hours``
  hours at least (a backfill after an outage sends old data late for an hour or so);
- *drift*: the offset's trend over the window and the six days before it (the Theil-Sen
  slope: robust to hours of backfill), of at least ``drift_s_per_day`` that has moved the clock by ``min_change_s`` or
  more: a clock that is being moved, or one that has stopped being set. The trend does not
  depend on the period a minute or hour packet covers, so every kind is used.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median

from forewarn.model import AuditReason
from forewarn.stats.checks.base import DAY_MS, HOUR_MS, CheckInput, Found, fact, thin
from forewarn.store.screening import clock_rows

__all__ = ["ClockDrift"]

#: the kinds a device's clock is read from, best first (real-time data is stamped when sampled)
_KIND_ORDER = ("rtd", "status", "minute", "hour", "day", "runtime")
#: hours the slope is measured over at most (evenly picked): 200 hours make 19,900 pairs
_MAX_PAIRS_OF = 200


class ClockDrift:
    kind = "clock_drift"
    title_zh = "时钟漂移"
    title_en = "clock drift"
    reason = AuditReason.FAULT
    lookback_ms = 6 * DAY_MS

    def find(self, inp: CheckInput) -> list[Found]:
        t = inp.thresholds
        tolerance = t.need(self.kind, "tolerance_s") * 1000
        per_day = t.need(self.kind, "drift_s_per_day") * 1000
        min_change = t.need(self.kind, "min_change_s") * 1000
        min_hours = t.need(self.kind, "min_hours")
        min_offset_hours = t.need(self.kind, "min_offset_hours")
        series: dict[int, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
        for device_id, hour, data_kind, _n, _rep, skew_min, _max, _sum in clock_rows(
                inp.db, inp.scope, inp.from_ms - self.lookback_ms, inp.to_ms):
            series[device_id][data_kind].append((hour, skew_min))
        site_of = {p.device_id: p for p in inp.points}
        found: list[Found] = []
        for device_id, kinds in series.items():
            p = site_of.get(device_id)
            if p is None:
                continue
            kind = min(kinds, key=lambda k: _KIND_ORDER.index(k) if k in _KIND_ORDER else 99)
            pts = kinds[kind]
            in_window = [(h, s) for h, s in pts if h >= inp.from_ms]
            if not in_window:
                continue
            off = [(h, s) for h, s in in_window if s < -tolerance or (kind == "rtd" and s > tolerance)]
            measurable = (pts[-1][0] - pts[0][0]) >= min_hours * HOUR_MS
            slope = _slope(pts) if measurable else 0.0
            change = slope * (pts[-1][0] - pts[0][0]) / DAY_MS
            drifting = measurable and abs(slope) >= per_day and abs(change) >= min_change
            if len(off) < min_offset_hours:
                off = []  # an hour or two of old data sent late is a backfill, not a clock
            if not off and not drifting:
                continue
            worst = max(in_window, key=lambda x: abs(x[1]))[1]
            start = pts[0][0] if drifting else off[0][0]
            end = (pts[-1][0] if drifting else off[-1][0]) + HOUR_MS
            what_en = (f"drifts {slope / 1000:+.0f} s a day ({change / 1000:+.0f} s over the period)" if drifting
                       else f"stamped {worst / 1000:+.0f} s from receipt")
            what_zh = (f"时钟每天漂移 {slope / 1000:+.0f} 秒（期间共 {change / 1000:+.0f} 秒）" if drifting
                       else f"数据时间与接收时间相差 {worst / 1000:+.0f} 秒")
            facts = [fact("数据类型", "data kind", kind),
                     fact("最大偏差（秒）", "largest offset (s)", round(worst / 1000)),
                     fact("容许偏差（秒）", "tolerance (s)", round(tolerance / 1000)),
                     fact("超差小时", "hours beyond tolerance", len(off))]
            if measurable:
                facts.append(fact("漂移（秒/天）", "drift (s/day)", round(slope / 1000, 1)))
            found.append(Found(
                kind=self.kind, site_id=p.site_id, device_id=device_id, start_ms=start, end_ms=end,
                summary_en=f"{p.site} {p.mn}: clock {what_en}",
                summary_zh=f"{p.site} {p.mn}：{what_zh}",
                evidence={"unit": "s", "data_kind": kind, "facts": facts,
                          "series": thin([(h, round(s / 1000, 1)) for h, s in pts]),
                          "lines": [round(tolerance / 1000), -round(tolerance / 1000)]},
            ))
        return found


def _slope(pts: list[tuple[int, int]]) -> float:
    """Theil-Sen slope of skew over time, in ms of skew per day: the median of the slopes between
    pairs of hours, so that a few hours of backfill (old data sent late) do not make a drift."""
    if len(pts) > _MAX_PAIRS_OF:
        step = len(pts) / _MAX_PAIRS_OF
        pts = [pts[int(i * step)] for i in range(_MAX_PAIRS_OF)]
    slopes = [(b[1] - a[1]) / ((b[0] - a[0]) / DAY_MS)
              for i, a in enumerate(pts) for b in pts[i + 1:] if b[0] != a[0]]
    return median(slopes) if slopes else 0.0
