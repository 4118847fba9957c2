"""Physically impossible values: outside what the quantity can be (negative dust, LEL over 100 %).

The bounds are per quantity in ``data/screening.csv``, with why each is impossible. They are
not the instrument's range nor a limit: a value beyond them was not measured, whatever the
device's flag says. Readings out of bounds close together (within two hours) make one finding.
"""

from __future__ import annotations

from forewarn.model import AuditReason
from forewarn.stats.checks.base import HOUR_MS, CheckInput, Found, fact, thin
from forewarn.store.screening import point_values

__all__ = ["ImpossibleValue"]

_JOIN_MS = 2 * HOUR_MS


class ImpossibleValue:
    kind = "impossible"
    title_zh = "超出物理可能"
    title_en = "physically impossible"
    reason = AuditReason.FAULT
    lookback_ms = 0

    def find(self, inp: CheckInput) -> list[Found]:
        t = inp.thresholds
        bounded = t.quantities(self.kind, "lower") | t.quantities(self.kind, "upper")
        found: list[Found] = []
        for p in inp.points:
            if p.quantity not in bounded:
                continue
            lower = t.get(self.kind, "lower", p.quantity)
            upper = t.get(self.kind, "upper", p.quantity)
            kind, values = point_values(inp.db, p.point_id, inp.from_ms, inp.to_ms)
            bad = [(ts, v) for ts, v in values
                   if (lower is not None and v < lower) or (upper is not None and v > upper)]
            for group in _groups(bad):
                first, last = group[0][0], group[-1][0]
                low, high = min(v for _, v in group), max(v for _, v in group)
                bounds = f"[{'' if lower is None else f'{lower:g}'}, {'' if upper is None else f'{upper:g}'}]"
                around = [v for v in values if first - 3 * HOUR_MS <= v[0] <= last + 3 * HOUR_MS]
                found.append(Found(
                    kind=self.kind, site_id=p.site_id, device_id=p.device_id, point_id=p.point_id,
                    start_ms=first, end_ms=last + 1,
                    summary_en=f"{p.site} {p.mn} {p.code}-{p.field} ({p.quantity}): {len(group)} values outside "
                               f"the possible {bounds} {p.unit} (from {low:g} to {high:g})",
                    summary_zh=f"{p.site} {p.mn} {p.code}-{p.field}（{p.name or p.quantity}）有 {len(group)} 个数据"
                               f"超出物理可能范围 {bounds} {p.unit}（{low:g} 至 {high:g}）",
                    evidence={
                        "unit": p.unit, "data_kind": kind,
                        "facts": [fact("超限个数", "values out of bounds", len(group)), fact("最小值", "lowest", low),
                                  fact("最大值", "highest", high), fact("可能范围", "possible range", bounds)],
                        "values": [[ts, v] for ts, v in group[:50]],
                        "series": thin(around),
                        "lines": [b for b in (lower, upper) if b is not None],
                    },
                ))
        return found


def _groups(bad: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    groups: list[list[tuple[int, float]]] = []
    for item in bad:
        if groups and item[0] - groups[-1][-1][0] <= _JOIN_MS:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups
