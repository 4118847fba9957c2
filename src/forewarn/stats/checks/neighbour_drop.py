"""A dust monitor that drops far below its neighbours while they stay high.

The fraud regulators worry about most: water sprayed on a monitor's inlet, or its sampling
head covered, before an inspection or a heavy-pollution day. Dust from one weather reaches
monitors a few kilometres apart alike, so a monitor that suddenly reads under ``ratio`` of
the median of the monitors within ``radius_km`` (at least ``min_neighbours`` of them), while
that median stays above ``high``, for ``hours`` hours in a row, after standing with them in
the ``before_hours`` before, is doubtful. Hourly means of each site's monitor are compared
(one per site and quantity); distances by haversine on the sites' coordinates.
"""

from __future__ import annotations

import math
from statistics import median

from forewarn.model import AuditReason
from forewarn.stats.checks.base import HOUR_MS, CheckInput, Found, fact, thin
from forewarn.store.screening import ScreenedPoint, hourly_means

__all__ = ["NeighbourDrop", "haversine_km"]

_EARTH_KM = 6371.0088
#: the sub-fields that carry a dust monitor's own value (real-time, or a period's average)
_VALUE_FIELDS = ("Avg", "Rtd")


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in km (the mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


class NeighbourDrop:
    kind = "neighbour_drop"
    title_zh = "骤降低于周边"
    title_en = "drop below neighbours"
    reason = AuditReason.SUSPECTED_TAMPERING
    lookback_ms = 12 * HOUR_MS

    def find(self, inp: CheckInput) -> list[Found]:
        t = inp.thresholds
        found: list[Found] = []
        radius = t.need(self.kind, "radius_km")
        for quantity in sorted(t.quantities(self.kind, "high")):
            monitors = _one_per_site([p for p in inp.points if p.quantity == quantity])
            if len(monitors) < 2:
                continue
            means = {p.site_id: hourly_means(inp.db, p.point_id, inp.from_ms - self.lookback_ms, inp.to_ms)
                     for p in monitors}
            for p, near in _within(monitors, radius):
                found += self._drops(inp, p, quantity, near, means)
        return found

    def _drops(self, inp: CheckInput, p: ScreenedPoint, quantity: str,
               near: list[tuple[ScreenedPoint, float]], means: dict[int, dict[int, float]]) -> list[Found]:
        t = inp.thresholds
        min_n = t.need(self.kind, "min_neighbours", quantity)
        if len(near) < min_n:
            return []
        ratio, before_ratio = t.need(self.kind, "ratio", quantity), t.need(self.kind, "before_ratio", quantity)
        high, hours = t.need(self.kind, "high", quantity), int(t.need(self.kind, "hours", quantity))
        before_hours = int(t.need(self.kind, "before_hours", quantity))
        own = means[p.site_id]
        med: dict[int, float] = {}
        for h in own:
            theirs = [means[q.site_id][h] for q, _ in near if h in means[q.site_id]]
            if len(theirs) >= min_n:
                med[h] = median(theirs)
        hours_seen = sorted(med)
        low = [h for h in hours_seen if med[h] >= high and own[h] < ratio * med[h]]
        found: list[Found] = []
        for stretch in _consecutive(low):
            if len(stretch) < hours or stretch[-1] < inp.from_ms - HOUR_MS:
                continue
            before = [h for h in range(stretch[0] - before_hours * HOUR_MS, stretch[0], HOUR_MS) if h in med]
            if not before or any(own[h] < before_ratio * med[h] for h in before):
                continue  # not sudden: it read low before too (or nothing to compare with)
            lowest = min(own[h] / med[h] for h in stretch)
            window = [h for h in hours_seen if stretch[0] - 6 * HOUR_MS <= h <= stretch[-1] + 6 * HOUR_MS]
            found.append(Found(
                kind=self.kind, site_id=p.site_id, device_id=p.device_id, point_id=p.point_id,
                start_ms=stretch[0], end_ms=stretch[-1] + HOUR_MS,
                summary_en=f"{p.site} {p.mn} {quantity}: {len(stretch)} h at {lowest:.0%} or less of the median "
                           f"of {len(near)} monitors within {max(d for _, d in near):.1f} km, which stayed high",
                summary_zh=f"{p.site} {p.mn} {quantity}：连续 {len(stretch)} 小时骤降至周边 {len(near)} 个监测点"
                           f"中位数的 {lowest:.0%} 以下，而周边持续偏高",
                evidence={
                    "unit": p.unit,
                    "facts": [fact("持续小时", "hours", len(stretch)),
                              fact("最低比值", "lowest ratio to the median", round(lowest, 3)),
                              fact("判定比值", "threshold ratio", ratio),
                              fact("周边偏高标准", "neighbours high from", high),
                              fact("周边监测点", "neighbours", len(near))],
                    "series": thin([(h, round(own[h], 3)) for h in window]),
                    "reference": thin([(h, round(med[h], 3)) for h in window]),
                    "neighbours": [{"site_id": q.site_id, "site": q.site, "mn": q.mn, "km": round(d, 2),
                                    "mean": round(sum(means[q.site_id].get(h, 0) for h in stretch) / len(stretch), 3)}
                                   for q, d in sorted(near, key=lambda x: x[1])],
                },
            ))
        return found


def _within(monitors: list[ScreenedPoint], radius_km: float
            ) -> list[tuple[ScreenedPoint, list[tuple[ScreenedPoint, float]]]]:
    """Each monitor with the others within ``radius_km`` and their distances. Monitors are put in
    cells at least the radius wide (in degrees, at 60 degrees north the narrowest China needs), so
    each is measured against its own and the eight cells around it, not against thousands."""
    cell = radius_km / (111.0 * math.cos(math.radians(60.0)))
    grid: dict[tuple[int, int], list[ScreenedPoint]] = {}
    for m in monitors:
        grid.setdefault((math.floor(m.latitude / cell), math.floor(m.longitude / cell)), []).append(m)  # type: ignore[operator]
    out = []
    for m in monitors:
        row, col = math.floor(m.latitude / cell), math.floor(m.longitude / cell)  # type: ignore[operator]
        near = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                for q in grid.get((row + dr, col + dc), ()):
                    if q.site_id == m.site_id:
                        continue
                    d = haversine_km(m.longitude, m.latitude, q.longitude, q.latitude)  # type: ignore[arg-type]
                    if d <= radius_km:
                        near.append((q, d))
        out.append((m, near))
    return out


def _one_per_site(points: list[ScreenedPoint]) -> list[ScreenedPoint]:
    """Each site's monitor of the quantity: its average if it sends one, else its real-time value;
    sites without coordinates cannot have neighbours."""
    chosen: dict[int, ScreenedPoint] = {}
    for p in points:
        if p.longitude is None or p.latitude is None or p.field not in _VALUE_FIELDS:
            continue
        have = chosen.get(p.site_id)
        if have is None or _VALUE_FIELDS.index(p.field) < _VALUE_FIELDS.index(have.field):
            chosen[p.site_id] = p
    return list(chosen.values())


def _consecutive(hours: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for h in hours:
        if runs and h - runs[-1][-1] == HOUR_MS:
            runs[-1].append(h)
        else:
            runs.append([h])
    return runs
