"""A simulated month of a small fleet, written through the store's own write path, with each
kind of doubtful data planted at a known place (or none: the clean month).

Five dust monitors within ~2 km of each other in 金城江区 (PM10 and humidity, hourly data) follow
one regional signal with their own small noise, as neighbours do; an LPG station in 宜州区 reports
its gas detector (%LEL, mostly 0). Every device's uploads are noted in ``packet_clock`` as the
HJ 212 handler notes them: 120 packets an hour, received a second or less after their DataTime,
a lost answer's re-send now and then, a backfill after a two-hour outage.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.model import Kind
from forewarn.store.base import IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from tests.integration.harness import register, settings_for

TZ = ZoneInfo("Asia/Shanghai")
MONTH_START = int(datetime(2026, 10, 1, tzinfo=TZ).timestamp() * 1000)
DAYS = 30
MONTH_END = MONTH_START + DAYS * 86_400_000
HOUR = 3_600_000
DAY = 24 * HOUR

DUST = [f"451202DUST0000000000000{i}" for i in range(1, 6)]
GAS = "451281GAS00000000000000001"
#: (longitude, latitude) of the dust sites: within ~2 km
_WHERE = [(108.050, 24.690), (108.060, 24.695), (108.065, 24.685), (108.055, 24.680), (108.045, 24.700)]


@dataclass
class Planted:
    """Where each fault was planted: (kind, MN, code or '', start ms, end ms)."""

    faults: list[tuple[str, str, str, int, int]] = field(default_factory=list)


def fleet_settings(tmp_path: Path) -> Settings:
    settings = settings_for(tmp_path, http_host="127.0.0.1", http_port=0)
    rows = [{"mn": mn, "enterprise": f"建设工地{i}", "site": f"工地{i}", "site_type": "construction_site",
             "longitude": f"{lon}", "latitude": f"{lat}", "interval_s": "30"}
            for i, (mn, (lon, lat)) in enumerate(zip(DUST, _WHERE, strict=True), start=1)]
    rows.append({"mn": GAS, "region_code": "451281", "region_name": "宜州区", "enterprise": "宜州液化气公司",
                 "site": "宜州储配站", "site_type": "lpg_station", "longitude": "108.64", "latitude": "24.49"})
    register(settings, tmp_path, rows)
    return settings


def write_month(settings: Settings, *, plant: bool, seed: int = 7) -> Planted:
    """Write the month; with ``plant``, one of each kind of doubtful data (see :class:`Planted`)."""
    rng = random.Random(seed)
    planted = Planted()
    hours = [MONTH_START + h * HOUR for h in range(DAYS * 24)]
    # the regional dust level: a daily rhythm over a slow wander, 40-250 ug/m3
    wander = 0.0
    regional: list[float] = []
    for i, _ in enumerate(hours):
        wander = max(-40.0, min(60.0, wander + rng.gauss(0, 4)))
        regional.append(110 + 50 * math.sin(2 * math.pi * (i % 24 - 8) / 24) + wander)
    drop_day = MONTH_START + 15 * DAY
    if plant:  # a polluted morning: every neighbour reads high
        for i, ts in enumerate(hours):
            if drop_day + 6 * HOUR <= ts < drop_day + 16 * HOUR:
                regional[i] = 280 + rng.uniform(-10, 10)
    store = SqliteStore(settings.db_path, Catalogue())
    try:
        ids = {mn: info.id for mn, info in store.device_infos().items()}
        batch = IngestBatch()
        for n, mn in enumerate(DUST):
            rows = []
            for i, ts in enumerate(hours):
                pm10 = round(regional[i] * rng.uniform(0.85, 1.15), 1)
                humidity = round(65 + 20 * math.sin(2 * math.pi * (i % 24) / 24 + n) + rng.gauss(0, 3), 1)
                rows.append(("a34002", "Avg", ts, pm10, "N"))
                rows.append(("a01002", "Avg", ts, humidity, "N"))
            batch.readings.append(ReadingBatch(ids[mn], Kind.HOUR, rows))
        gas_rows = [("GD1", "LEL", ts, float(rng.choice([0, 0, 0, 0, 0, 1])), "N") for ts in hours]
        batch.readings.append(ReadingBatch(ids[GAS], Kind.HOUR, gas_rows))
        for mn in [*DUST, GAS]:
            for ts in hours:
                for _ in range(120):
                    skew = rng.randint(150, 900)
                    batch.note_packet(ids[mn], ts, "rtd", skew, False)
                if rng.random() < 0.05:  # an answer lost now and then: the device sent again
                    batch.note_packet(ids[mn], ts, "rtd", 10_500, True)
        # monitor 3 back from a two-hour outage: that hour brings only its stored data, late
        # (a backfill, not a clock fault: no finding)
        for h in (10 * 24 + 5, 10 * 24 + 6):
            batch.packet_clock[(ids[DUST[2]], hours[h], "rtd")] = [240, 0, 3_600_000, 7_200_000, 240 * 5_400_000]
        if plant:
            _plant(batch, ids, planted)
        store.write(batch)
    finally:
        store.close()
    return planted


def _set(batch: IngestBatch, device_id: int, code: str, ts: int, value: float) -> None:
    for item in batch.readings:
        if item.device_id != device_id:
            continue
        for i, row in enumerate(item.rows):
            if row[0] == code and row[2] == ts:
                item.rows[i] = (row[0], row[1], ts, value, row[4])
                return
    raise AssertionError(f"no reading {code} at {ts}")


def _plant(batch: IngestBatch, ids: dict[str, int], planted: Planted) -> None:
    # constant: monitor 2's humidity stuck at 55.0 for 10 hours on day 5
    start = MONTH_START + 5 * DAY + 2 * HOUR
    for h in range(11):
        _set(batch, ids[DUST[1]], "a01002", start + h * HOUR, 55.0)
    planted.faults.append(("constant", DUST[1], "a01002", start, start + 10 * HOUR + 1))
    # impossible: the gas detector reads 130 %LEL for 3 hours on day 8; monitor 3 a negative PM10 on day 12
    start = MONTH_START + 8 * DAY + 14 * HOUR
    for h in range(3):
        _set(batch, ids[GAS], "GD1", start + h * HOUR, 130.0)
    planted.faults.append(("impossible", GAS, "GD1", start, start + 2 * HOUR + 1))
    at = MONTH_START + 12 * DAY + 9 * HOUR
    _set(batch, ids[DUST[2]], "a34002", at, -5.0)
    planted.faults.append(("impossible", DUST[2], "a34002", at, at + 1))
    # neighbour drop: monitor 4 reads a tenth of its neighbours for 6 hours of the polluted morning of day 15
    start = MONTH_START + 15 * DAY + 8 * HOUR
    for h in range(6):
        ts = start + h * HOUR
        _set(batch, ids[DUST[3]], "a34002", ts, 28.0 + h)
    planted.faults.append(("neighbour_drop", DUST[3], "a34002", start, start + 6 * HOUR))
    # clock drift: monitor 5's clock falls behind by 90 s a day from the month's start
    device = ids[DUST[4]]
    for (dev, hour, _kind), cell in batch.packet_clock.items():
        if dev == device:
            extra = (hour - MONTH_START) * 90_000 // DAY
            cell[2] += extra
            cell[3] += extra
            cell[4] += extra * cell[0]
    planted.faults.append(("clock_drift", DUST[4], "", MONTH_START, MONTH_END))
    # repeats: monitor 1 sends every packet twice all day 20
    day = MONTH_START + 20 * DAY
    for h in range(24):
        for _ in range(120):
            batch.note_packet(ids[DUST[0]], day + h * HOUR, "rtd", 400, True)
    planted.faults.append(("repeats", DUST[0], "", day, day + DAY))
