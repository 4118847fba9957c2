"""Repeated identical packets: a device that sends the same packet again and again.

The HJ 212 handler counts, per device and hour, the uploads that repeat one of the device's
last few (the same QN, or the same data segment under another QN); the store keeps the first
and ignores the rest, so without this count nothing would show. A device re-sends an upload
only when it missed the answer (three times at most, by default), so a few repeats are a
lost answer; ``min_repeats`` a day that are also ``ratio`` of its packets are a device
replaying data, or one misconfigured to send everything twice. Consecutive such days make
one finding.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from forewarn.model import AuditReason
from forewarn.stats.checks.base import DAY_MS, HOUR_MS, CheckInput, Found, fact, thin
from forewarn.store.screening import clock_rows

__all__ = ["RepeatedPackets"]


class RepeatedPackets:
    kind = "repeats"
    title_zh = "重复数据包"
    title_en = "repeated packets"
    reason = AuditReason.SUSPECTED_TAMPERING
    lookback_ms = 0

    def find(self, inp: CheckInput) -> list[Found]:
        t = inp.thresholds
        min_repeats, ratio = t.need(self.kind, "min_repeats"), t.need(self.kind, "ratio")
        hours: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for device_id, hour, _kind, packets, repeats, *_ in clock_rows(inp.db, inp.scope, inp.from_ms, inp.to_ms):
            cell = hours[device_id][hour]
            cell[0] += packets
            cell[1] += repeats
        site_of = {p.device_id: p for p in inp.points}
        found: list[Found] = []
        for device_id, by_hour in hours.items():
            p = site_of.get(device_id)
            if p is None:
                continue
            days: dict[int, list[int]] = defaultdict(lambda: [0, 0])
            for hour, (packets, repeats) in by_hour.items():
                day = _day_start(hour, inp)
                days[day][0] += packets
                days[day][1] += repeats
            bad = sorted(d for d, (n, r) in days.items() if r >= min_repeats and r >= ratio * n)
            for stretch in _consecutive_days(bad):
                start, end = stretch[0], stretch[-1] + DAY_MS
                packets = sum(days[d][0] for d in stretch)
                repeats = sum(days[d][1] for d in stretch)
                found.append(Found(
                    kind=self.kind, site_id=p.site_id, device_id=device_id, start_ms=start, end_ms=end,
                    summary_en=f"{p.site} {p.mn}: {repeats} of {packets} packets repeated one already received "
                               f"({repeats / packets:.0%}) over {len(stretch)} day(s)",
                    summary_zh=f"{p.site} {p.mn}：{len(stretch)} 天内 {packets} 个数据包中有 {repeats} 个重复"
                               f"（{repeats / packets:.0%}）",
                    evidence={"unit": "", "facts": [
                        fact("重复包数", "repeated packets", repeats), fact("数据包数", "packets", packets),
                        fact("重复比例", "share repeated", round(repeats / packets, 3)),
                        fact("判定（每天）", "threshold (a day)", f">= {min_repeats:g}, >= {ratio:.0%}")],
                        "series": thin(sorted((h, float(r)) for h, (_, r) in by_hour.items()
                                              if start <= h < end))},
                ))
        return found


def _day_start(hour_ms: int, inp: CheckInput) -> int:
    """The start of the local day (the devices' zone) that holds ``hour_ms``."""
    moment = datetime.fromtimestamp(hour_ms / 1000, inp.tz)
    return int(moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


def _consecutive_days(days: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for d in days:
        if runs and d - runs[-1][-1] <= DAY_MS + HOUR_MS:  # a daylight-saving day is 25 h long
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs
