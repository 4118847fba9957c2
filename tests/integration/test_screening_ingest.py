"""The HJ 212 handler notes what the screening reads of each upload: how far its DataTime stood
from its receipt, and whether it repeated one just received (same QN, or same data under
another QN), per device and hour; over a real socket into the real store."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path

from forewarn.catalogue import Catalogue
from forewarn.store.sqlite import SqliteStore
from tests.integration.harness import data_packet, register, running, send_stored, settings_for
from tests.integration.screening_month import TZ

MN = "451202A1FE00000000000009"


def _datatime(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y%m%d%H%M%S")


def test_uploads_note_their_clock_offset_and_repeats(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    now = int(time.time() * 1000)
    behind = _datatime(now - 600_000)  # the device's clock ten minutes behind
    first = data_packet(MN, f"DataTime={behind};a34002-Rtd=45.2,a34002-Flag=N", qn="20261122080000001")
    same_qn = first
    same_data = data_packet(MN, f"DataTime={behind};a34002-Rtd=45.2,a34002-Flag=N", qn="20261122080000002")
    other = data_packet(MN, f"DataTime={_datatime(now - 570_000)};a34002-Rtd=47.0,a34002-Flag=N",
                        qn="20261122080000003")

    async def scenario() -> None:
        async with running(settings) as platform:
            await send_stored(platform, first, same_qn, same_data, other)

    asyncio.run(scenario())
    with SqliteStore(settings.db_path, Catalogue()) as store:
        rows = store.db.execute("SELECT kind, SUM(packets), SUM(repeats), MIN(skew_min_ms), MAX(skew_max_ms) "
                                "FROM packet_clock GROUP BY kind").fetchall()
    ((kind, packets, repeats, skew_min, skew_max),) = rows
    assert (kind, packets, repeats) == ("rtd", 4, 2)
    assert 570_000 - 2_000 <= skew_min <= 570_000 + 5_000  # DataTime has whole seconds; the send takes a moment
    assert 600_000 - 2_000 <= skew_max <= 600_000 + 5_000
