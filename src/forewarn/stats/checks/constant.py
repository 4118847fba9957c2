"""Constant values: one value held for hours by a factor that normally varies.

A stuck sensor, or a logger that writes a set value instead of measuring, gives a flat line.
Only quantities with a ``constant,hours`` row are screened (status points and gas detectors
that legitimately read 0 all day have none); ``skip_zero`` leaves out flat zeros of equipment
that is simply off. A flat stretch is ended by a different value or by a gap longer than
``max_gap_hours`` (silence is another finding's business). Held for N hours means from the
first to the last reading of the value.
"""

from __future__ import annotations

from forewarn.model import AuditReason
from forewarn.stats.checks.base import DAY_MS, HOUR_MS, CheckInput, Found, fact, thin
from forewarn.store.screening import point_values

__all__ = ["ConstantValue"]

#: sub-fields whose values repeat those of another point of the same factor (minute data's
#: Min, Max and cumulative amount beside its Avg): screened through the Avg, not three times
_DERIVED_FIELDS = frozenset({"Min", "Max", "Cou", "ZsMin", "ZsMax", "ZsCou"})


class ConstantValue:
    kind = "constant"
    title_zh = "恒值"
    title_en = "constant value"
    reason = AuditReason.FAULT
    lookback_ms = DAY_MS

    def find(self, inp: CheckInput) -> list[Found]:
        t = inp.thresholds
        screened = t.quantities(self.kind, "hours")
        max_gap = t.need(self.kind, "max_gap_hours") * HOUR_MS
        found: list[Found] = []
        for p in inp.points:
            if p.quantity not in screened or p.field in _DERIVED_FIELDS:
                continue
            hours = t.need(self.kind, "hours", p.quantity)
            skip_zero = bool(t.get(self.kind, "skip_zero", p.quantity) or 0)
            kind, values = point_values(inp.db, p.point_id, inp.from_ms - self.lookback_ms, inp.to_ms)
            for a, b in _flat_runs(values, max_gap):
                first_ts, value = values[a]
                last_ts = values[b][0]
                if last_ts - first_ts < hours * HOUR_MS or last_ts < inp.from_ms:
                    continue
                if skip_zero and value == 0:
                    continue
                held_h = (last_ts - first_ts) / HOUR_MS
                around = [v for v in values if first_ts - 6 * HOUR_MS <= v[0] <= last_ts + 6 * HOUR_MS]
                found.append(Found(
                    kind=self.kind, site_id=p.site_id, device_id=p.device_id, point_id=p.point_id,
                    start_ms=first_ts, end_ms=last_ts + 1,
                    summary_en=f"{p.site} {p.mn} {p.code}-{p.field} ({p.quantity}) held {value:g} {p.unit} "
                               f"for {held_h:.1f} h ({b - a + 1} readings)",
                    summary_zh=f"{p.site} {p.mn} {p.code}-{p.field}（{p.name or p.quantity}）连续 {held_h:.1f} 小时"
                               f"恒为 {value:g} {p.unit}（{b - a + 1} 个数据）",
                    evidence={
                        "unit": p.unit, "data_kind": kind,
                        "facts": [fact("恒定值", "value held", value), fact("持续小时", "hours", round(held_h, 1)),
                                  fact("数据个数", "readings", b - a + 1),
                                  fact("判定阈值（小时）", "threshold (hours)", hours)],
                        "series": thin(around),
                        "stretch": [first_ts, last_ts],
                    },
                ))
        return found


def _flat_runs(values: list[tuple[int, float]], max_gap_ms: float) -> list[tuple[int, int]]:
    """Index ranges [a, b] of consecutive identical values with no gap over ``max_gap_ms``."""
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i < len(values) and values[i][1] == values[start][1] and values[i][0] - values[i - 1][0] <= max_gap_ms:
            continue
        if i - 1 > start:
            runs.append((start, i - 1))
        start = i
    return runs
