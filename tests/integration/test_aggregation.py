"""forewarn's own minute/hour/day/month values on real parts (SQLite, the presets' limits, the
audit service): a worked day of minute data with gaps, bad flags, an exceedance and an audit
mark gives exactly the hours and the day a reviewer computes by hand; late data recomputes
only the periods it touches; device-reported values that disagree are listed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.cli import main
from forewarn.config import Settings
from forewarn.model import Kind, Period
from forewarn.rules.loader import build_catalog, load_effective_rules
from forewarn.stats import audit
from forewarn.stats.aggregate import Aggregator, queue_recompute
from forewarn.store.aggregates import AggregateRow, aggregates, dirty_backlog, mismatches
from forewarn.store.base import DeviceRow, IngestBatch, PointRow, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import HECHI_MN, Fleet, assert_problem, bearer, run
from tests.integration.harness import data_packet, register, running, send_stored, settings_for

TZ = ZoneInfo("Asia/Shanghai")
DAY = int(datetime(2026, 3, 2, tzinfo=TZ).timestamp() * 1000)  # local midnight
M, H = 60_000, 3_600_000
MN = "AGG0000000000000000001"


class Bench:
    """A store with one PM10 point (the dust preset's hourly limit: 80), and an aggregator
    whose writer jobs are run by the test (``drain``) and whose clock the test moves."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = Settings(data_dir=tmp_path)
        self.store = SqliteStore(self.settings.db_path, Catalogue())
        self.store.apply_registry(
            [DeviceRow(region_code="140213", region_name="平城区", parent_region_code="140200", enterprise="某工地",
                       site="工地", site_type="construction_site", mn=MN, interval_s=60)],
            [PointRow(MN, "a34002", "Rtd"), PointRow(MN, "a34002", "Avg")],
        )
        self.device_id = self.store.device_infos()[MN].id
        self.point = self.store.db.execute("SELECT id FROM points WHERE field = 'Rtd'").fetchone()[0]
        rules = load_effective_rules(tmp_path / "no-rules")
        catalog = build_catalog(*self.store.rule_context(), Catalogue())
        self.now_ms = DAY + 36 * H
        self.jobs: list[Callable[[Any], object]] = []
        self.agg = Aggregator(self.settings, submit_job=self.jobs.append, rules=lambda: (rules, catalog),
                              clock=lambda: self.now_ms / 1000)

    def send(self, rows: list[tuple[int, float, str]], kind: Kind = Kind.RTD, field: str = "Rtd") -> None:
        batch = IngestBatch(readings=[ReadingBatch(self.device_id, kind, [("a34002", field, ts, v, f)
                                                                          for ts, v, f in rows])])
        self.store.write(batch)
        self.agg.on_committed(batch)

    def drain(self) -> None:
        self.agg.flush()
        self.agg.poke()
        while self.jobs:
            self.jobs.pop(0)(self.store)

    def rows(self, period: Period) -> dict[int, AggregateRow]:
        return {r.start_ms: r for r in aggregates(self.store.db, [self.point], period, 0, 2**62)}


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    b = Bench(tmp_path)
    yield b
    b.store.close()


def worked_day() -> list[tuple[int, float, str]]:
    """One value a minute on 2 March 2026 (Beijing time), hour by hour:
    00 all 10; 01 only 44 minutes (10); 02 20 minutes flagged M (50) then 40 of 12;
    03 15 minutes flagged D (999) then 45 of 14; 04 all 16 (its first half marked invalid in
    audit); 05 all 20; 06 nothing; 07-23 all 20, but 12:00-12:09 at 100 (over the limit 80)."""
    out = []
    for h in range(24):
        for m in range(60):
            ts = DAY + h * H + m * M
            if h == 0 or (h == 1 and m < 44):
                out.append((ts, 10.0, "N"))
            elif h == 2:
                out.append((ts, 50.0, "M") if m < 20 else (ts, 12.0, "N"))
            elif h == 3:
                out.append((ts, 999.0, "D") if m < 15 else (ts, 14.0, "N"))
            elif h == 4:
                out.append((ts, 16.0, "N"))
            elif h == 5 or h >= 7:
                out.append((ts, 100.0 if h == 12 and m < 10 else 20.0, "N"))
    return out


def mark_invalid(bench: Bench, start_ms: int, end_ms: int) -> None:
    bench.store.run_in_transaction(lambda db: audit.mark(
        db, actor="reviewer", scope=Scope(Role.CITY_ADMIN), target="point", target_id=bench.point, start_ms=start_ms,
        end_ms=end_ms, valid=False, reason="calibration", now_ms=bench.now_ms))


def test_a_worked_day_gives_the_hours_and_the_day_a_reviewer_computes(bench: Bench) -> None:
    bench.send(worked_day())
    mark_invalid(bench, DAY + 4 * H, DAY + 4 * H + 30 * M)
    bench.drain()
    hours = bench.rows(Period.HOUR)
    assert sorted(hours) == [DAY + h * H for h in range(24) if h != 6]

    def hour(h: int) -> tuple[object, ...]:
        r = hours[DAY + h * H]
        return (r.avg, r.min, r.max, r.n_received, r.n_valid, r.parts_valid, r.valid, r.flag, r.n_over)

    assert hour(0) == (10.0, 10.0, 10.0, 60, 60, 60, True, "N", 0)
    assert hour(1) == (10.0, 10.0, 10.0, 44, 44, 44, False, "N", 0)  # 44 < 45 valid minutes
    assert hour(2) == (12.0, 12.0, 12.0, 60, 40, 40, False, "M", 0)  # 40 of 60 N: under 75 %
    assert hour(3) == (14.0, 14.0, 14.0, 60, 45, 45, True, "N", 0)  # exactly 45, exactly 75 %
    assert hour(4) == (16.0, 16.0, 16.0, 60, 30, 30, False, "I", 0)  # half marked invalid in audit
    assert hours[DAY + 12 * H].avg == pytest.approx((10 * 100 + 50 * 20) / 60)
    assert hour(12)[1:] == (20.0, 100.0, 60, 60, 60, True, "N", 10)
    assert hours[DAY + 12 * H].over_ms == 10 * M and hours[DAY + 12 * H].upper_limit == 80.0

    day = bench.rows(Period.DAY)[DAY]
    # valid hours: 00, 03, 05 and 07-23 = 20, just enough (GB 3095: 20 hours)
    assert (day.parts, day.parts_valid, day.valid, day.flag) == (23, 20, True, "N")
    assert (day.n_received, day.n_valid, day.n_over, day.over_ms) == (1364, 1299, 10, 10 * M)
    assert day.avg == pytest.approx((10 + 14 + 20 + 16 * 20 + 2000 / 60) / 20)
    assert (day.min, day.max) == (10.0, 100.0)

    month = bench.rows(Period.MONTH)
    assert list(month) == [int(datetime(2026, 3, 1, tzinfo=TZ).timestamp() * 1000)]
    only = next(iter(month.values()))
    assert (only.parts, only.parts_valid, only.valid) == (1, 1, False)  # 1 of the 27 days a month needs

    minutes = bench.rows(Period.MINUTE)
    assert len(minutes) == 60 + 44 + 60 + 60 + 60 + 60 + 17 * 60
    assert minutes[DAY + 2 * H].flag == "M" and not minutes[DAY + 2 * H].valid
    assert minutes[DAY + 4 * H + 29 * M].flag == "I" and minutes[DAY + 4 * H + 30 * M].valid


def test_late_data_recomputes_only_the_periods_it_touches(bench: Bench) -> None:
    bench.send(worked_day())
    bench.drain()
    before = {p: bench.rows(p) for p in Period}
    bench.now_ms += H
    bench.send([(DAY + 6 * H + 30 * M + 15_000, 40.0, "N")])  # 06:30:15, into the hour that had nothing
    bench.drain()
    after = {p: bench.rows(p) for p in Period}
    changed = {p: sorted(s for s, r in after[p].items() if before[p].get(s) != r) for p in Period}
    month = int(datetime(2026, 3, 1, tzinfo=TZ).timestamp() * 1000)
    assert changed == {Period.MINUTE: [DAY + 6 * H + 30 * M], Period.HOUR: [DAY + 6 * H], Period.DAY: [DAY],
                       Period.MONTH: [month]}
    assert after[Period.HOUR][DAY + 6 * H].n_received == 1
    assert after[Period.DAY][DAY].parts == 24


def test_an_audit_mark_later_recomputes_the_periods_it_covers(bench: Bench) -> None:
    bench.send(worked_day())
    bench.drain()
    assert bench.rows(Period.HOUR)[DAY].valid
    assert bench.rows(Period.DAY)[DAY].parts_valid == 21  # 00, 03, 04, 05, 07-23
    bench.now_ms += H
    mark_invalid(bench, DAY + 10 * M, DAY + 30 * M)  # 20 minutes of hour 00
    bench.drain()
    hour = bench.rows(Period.HOUR)[DAY]
    assert (hour.n_valid, hour.parts_valid, hour.valid) == (40, 40, False)
    day = bench.rows(Period.DAY)[DAY]
    assert (day.parts_valid, day.valid) == (20, True)  # hour 00 no longer counts; 20 are still enough
    assert day.avg == pytest.approx((14 + 16 + 20 + 16 * 20 + 2000 / 60) / 20)


def test_an_open_hour_is_combined_once_it_ends(bench: Bench) -> None:
    bench.now_ms = DAY + 10 * H + 30 * M
    bench.send([(DAY + 10 * H + m * M, 5.0, "N") for m in range(30)])
    bench.drain()
    assert len(bench.rows(Period.MINUTE)) == 30 and bench.rows(Period.HOUR) == {}
    bench.now_ms = DAY + 11 * H
    bench.drain()
    assert bench.rows(Period.HOUR)[DAY + 10 * H].n_received == 30


def test_device_reported_values_beyond_the_tolerance_are_listed(bench: Bench) -> None:
    bench.send(worked_day())
    bench.drain()
    # the device's own hourly means: hour 00 right, hour 05 off by 10 %, hour 07 within 5 %
    bench.send([(DAY, 10.0, "N"), (DAY + 5 * H, 22.0, "N"), (DAY + 7 * H, 20.5, "N")], Kind.HOUR, "Avg")
    found = mismatches(bench.store.db, Scope(Role.CITY_ADMIN), Period.HOUR, DAY, DAY + 24 * H, relative=0.05, absolute=0.001)
    assert [(m.start_ms, m.field, m.reported, m.computed) for m in found] == [(DAY + 5 * H, "Avg", 22.0, 20.0)]


def test_a_running_platform_aggregates_what_its_devices_send(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> tuple[list[AggregateRow], list[AggregateRow]]:
        async with running(settings) as platform:
            await send_stored(platform, *(data_packet(MN, f"DataTime=202611220800{s:02d};a34002-Rtd={v},a34002-Flag=N")
                                          for s, v in ((0, 40.0), (30, 100.0))))
            await aggregated(platform)
            with SqliteStore(settings.db_path, Catalogue()) as store:
                point = store.db.execute("SELECT id FROM points WHERE field = 'Rtd'").fetchone()[0]
                return (aggregates(store.db, [point], Period.MINUTE, 0, 2**62),
                        aggregates(store.db, [point], Period.HOUR, 0, 2**62))

    minutes, hours = asyncio.run(scenario())
    eight = int(datetime(2026, 11, 22, 8, tzinfo=TZ).timestamp() * 1000)
    assert [(m.start_ms, m.avg, m.max, m.n_received, m.n_over, m.upper_limit) for m in minutes] == [
        (eight, 70.0, 100.0, 2, 1, 80.0)]
    assert [(h.start_ms, h.avg, h.parts, h.valid) for h in hours] == [(eight, 70.0, 1, False)]


def test_recompute_at_the_command_line_backfills_a_range(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    bench.send(worked_day())  # stored, never aggregated (as after importing history)
    bench.store.close()
    data = str(bench.settings.data_dir)
    assert main(["stats", "recompute", "--data", data, "--from", "2026-03-02", "--to", "2026-03-03"]) == 0
    out = capsys.readouterr().out
    assert "recomputed 2 points" in out and "rows written: 1364 minutes, 23 hours, 1 days, 1 months" in out
    with SqliteStore(bench.settings.db_path, Catalogue()) as store:
        hours = {h.start_ms: h for h in aggregates(store.db, [bench.point], Period.HOUR, DAY, DAY + 24 * H)}
        assert len(hours) == 23 and hours[DAY].avg == 10.0
        assert hours[DAY + 12 * H].n_over == 10  # over the limit the engine judges by

    assert main(["stats", "recompute", "--data", data, "--from", "2026-03-03", "--to", "2026-03-02"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["forewarn: error: --to 2026-03-02 must be after --from 2026-03-03"]


def test_mismatches_at_the_command_line(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    bench.send(worked_day())
    bench.drain()
    bench.send([(DAY + 5 * H, 22.0, "N")], Kind.HOUR, "Avg")
    bench.store.close()
    assert main(["stats", "mismatches", "--data", str(bench.settings.data_dir), "--from", "2026-03-02",
                 "--to", "2026-03-03", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(m["start"], m["mn"], m["code"], m["field"], m["reported"], m["computed"]) for m in found] == [
        ("2026-03-02T05:00:00+08:00", MN, "a34002", "Avg", 22.0, 20.0)]


async def aggregated(platform: Any) -> None:
    """Once the writer has done everything due in the aggregation's queue: a writer job (after
    every job queued before it) that does the rest at once, as ``forewarn stats recompute`` does."""
    loop = asyncio.get_running_loop()
    agg = platform.aggregator
    for _ in range(20):
        agg.flush()
        left: asyncio.Future[int] = loop.create_future()
        now = platform.pipeline.now_ms()

        def finish(st: Any, left: asyncio.Future[int] = left, now: int = now) -> None:
            agg.run_pending(st.db)
            loop.call_soon_threadsafe(left.set_result, dirty_backlog(st.db, now)[0])

        platform.writer.submit_job(finish)
        if await asyncio.wait_for(left, 10) == 0:
            return
    raise AssertionError("the aggregation did not catch up")


def test_a_platform_starting_over_unaggregated_data_catches_up(bench: Bench) -> None:
    bench.send(worked_day())  # stored while nothing noted it (a crash, or history from before)
    bench.store.close()

    async def scenario() -> dict[int, AggregateRow]:
        settings = settings_for(bench.settings.data_dir.parent, data_dir=bench.settings.data_dir)
        async with running(settings) as platform:
            await asyncio.sleep(0)  # the aggregation's task starts: its first job queues what is behind
            await aggregated(platform)
        with SqliteStore(bench.settings.db_path, Catalogue()) as store:
            return {h.start_ms: h for h in aggregates(store.db, [bench.point], Period.HOUR, DAY, DAY + 24 * H)}

    hours = asyncio.run(scenario())
    assert len(hours) == 23 and hours[DAY + 2 * H].flag == "M" and hours[DAY + 3 * H].valid


def test_the_api_lists_mismatches_within_the_users_scope(fleet: Fleet) -> None:
    async def scenario(platform: Any, client: httpx.AsyncClient) -> None:
        live = [data_packet(HECHI_MN, f"DataTime=2026112208{m:02d}00;a34002-Rtd=40,a34002-Flag=N") for m in range(3)]
        own = data_packet(HECHI_MN, "DataTime=20261122080000;a34002-Avg=55,a34002-Flag=N", cn="2061")
        await send_stored(platform, *live, own)
        await aggregated(platform)
        ask = {"from": "2026-11-22", "to": "2026-11-23", "period": "hour"}
        city = await client.get("/api/v1/stats/mismatches", params=ask, headers=bearer(fleet.tokens["city"]))
        assert city.status_code == 200, city.text
        assert [(i["mn"], i["start"], i["reported"], i["computed"], i["difference"]) for i in city.json()["items"]] == [
            (HECHI_MN, "2026-11-22T08:00:00+08:00", 55.0, 40.0, 15.0)]
        datong = await client.get("/api/v1/stats/mismatches", params=ask, headers=bearer(fleet.tokens["datong"]))
        assert datong.status_code == 200 and datong.json()["items"] == []
        wrong = await client.get("/api/v1/stats/mismatches", params={**ask, "period": "month"},
                                 headers=bearer(fleet.tokens["city"]))
        assert_problem(wrong, 400)

    run(fleet.settings, scenario)


def test_a_recomputation_reports_its_backlog_going_down_to_nothing(bench: Bench) -> None:
    bench.send(worked_day())
    assert queue_recompute(bench.store.db, DAY, DAY + 24 * H) == 2  # the Rtd point and the Avg point
    left: list[tuple[int, int]] = []
    bench.agg.run_pending(bench.store.db, lambda minutes, hours: left.append((minutes, hours)))
    minutes = [m for m, _ in left]
    assert minutes[-1] == 0 and all(a >= b for a, b in zip(minutes, minutes[1:], strict=False))
    assert left[0][0] < 2 * 24 * H and left[-1] == (0, 0)
    # the hours are combined once the minutes are done: while minutes are left, no hour is done
    assert all(h > 0 for m, h in left if m > 0)
    assert len(bench.rows(Period.HOUR)) == 23


def test_the_api_refuses_windows_it_cannot_read_in_one_line(fleet: Fleet) -> None:
    async def scenario(platform: Any, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        for params, words in (({"from": "2026-11-23", "to": "2026-11-22"}, "to must be after from"),
                              ({"from": "99999999999999999999", "to": "2026-11-22"}, "outside the years 1970 to 9999"),
                              ({"from": "2026-11-22", "to": "2026-11-23", "site": 2**64}, "a site id"),
                              ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 366 days")):
            answer = await client.get("/api/v1/stats/mismatches", params=params, headers=city)
            assert words in str(assert_problem(answer, 400)["detail"]), answer.text
        anonymous = await client.get("/api/v1/stats/mismatches", params={"from": "2026-11-22", "to": "2026-11-23"})
        assert anonymous.status_code == 401

    run(fleet.settings, scenario)
