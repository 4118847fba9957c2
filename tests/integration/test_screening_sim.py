"""The seed fleet as the simulator plays it (all 72 devices: gas stations with LNG tanks at
-150 C, dust monitors, kitchens, power meters), a clean week sampled hourly and written through
the store's write path: the screening finds nothing in it. This is what told the impossible
bounds that a tank's temperature may well be -150 C."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.cli.registry import import_files
from forewarn.config import load_settings
from forewarn.model import Kind
from forewarn.sim import fleet_files, fleet_regions_file, load_fleet, sample
from forewarn.stats import screening
from forewarn.stats.checks.thresholds import load_thresholds
from forewarn.store.base import IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from tests.integration.screening_month import TZ

HOUR = 3_600_000
DAYS = 7
START = int(datetime(2026, 10, 1, tzinfo=TZ).timestamp() * 1000)


def test_the_simulated_fleet_s_clean_week_yields_no_findings(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path / "data")
    import_files(settings, [fleet_regions_file(), *fleet_files()])
    with SqliteStore(settings.db_path, Catalogue()) as store:
        ids = {mn: info.id for mn, info in store.device_infos().items()}
        batch = IngestBatch()
        for device in load_fleet():
            rows = []
            for h in range(DAYS * 24):
                ts = START + h * HOUR + device.interval_s * 1000
                for code, fields in sample(device, ts).items():
                    rows += [(code, field, ts, float(value), "N") for field, value in fields.items()]
                batch.note_packet(ids[device.mn], START + h * HOUR, "rtd", 400 + h % 7 * 50, False)
            batch.readings.append(ReadingBatch(ids[device.mn], Kind.RTD, rows))
        store.write(batch)
        found = screening.screen(store.db, Scope(Role.CITY_ADMIN), START, START + DAYS * 24 * HOUR,
                                 thresholds=load_thresholds(), tz=TZ)
    assert [f.summary_en for f in found] == []
    assert batch.row_count() > 80_000  # every device reported all week
