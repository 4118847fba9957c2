"""The figures' worked examples of docs/statistics.md, through the real code on a real store.

One local day, 2026-10-05 (Asia/Shanghai), in the city 451200 with two districts:

- site A, a restaurant in 451202: its oil-fume monitor reports every minute, except 01:00 to
  01:59 (a gap); 05:00-05:29 flagged D (device fault); 03:00-03:29 marked invalid in audit;
  12:00-12:09 over the 1.0 mg/m3 local limit (1.5, and 1.8 at 12:05); its fan runs 10:00-14:00
  and its purifier the same but 13:00-13:29;
- site B, a construction site in 451202: its dust monitor registered at 12:00, reporting until
  23:49;
- site C, a gas station in 451221: never heard, stopped from 18:00.

The readings are written through the store, the aggregates computed by the real aggregator,
the audit mark laid (and revoked) by the audit use case, the site stopped by the lifecycle use
case, overdue alarms marked by the alarm timers; only the clock is set. Every number asserted
is the one docs/statistics.md gives.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.alarms.timers import check_timers
from forewarn.catalogue import Catalogue
from forewarn.cli import main
from forewarn.cli.registry import import_files
from forewarn.config import Settings
from forewarn.model import Kind, Period
from forewarn.registry.lifecycle import change_site_status
from forewarn.rules.loader import build_catalog, load_effective_rules
from forewarn.sites.view import RulesInForce
from forewarn.stats import audit
from forewarn.stats.aggregate import Aggregator
from forewarn.stats.day_keeper import DayKeeper
from forewarn.stats.figures import FigureRow, figures, ranking_districts, ranking_enterprises
from forewarn.stats.runtime import catalogue_view, refresh_days
from forewarn.store import aggregates
from forewarn.store.base import IngestBatch, ReadingBatch
from forewarn.store.sqlite import SqliteStore
from tests.integration.harness import settings_for

pytestmark = pytest.mark.integration

MN_A = "451202FUME00000000000001"
MN_B = "451202DUST00000000000001"
MN_C = "451221GAS000000000000001"
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
ALL = Scope(Role.CITY_ADMIN)


def _sheet(path: Path) -> Path:
    header = ["region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type", "longitude",
              "latitude", "mn", "password", "interval_s", "device_kind"]
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(header)
        w.writerow(["451202", "金城江区", "451200", "河池某餐馆", "后厨", "restaurant", "108.06", "24.69", MN_A, "",
                    "60", "fume_monitor"])
        w.writerow(["451202", "金城江区", "451200", "河池某建筑公司", "一号工地", "construction_site", "108.07",
                    "24.70", MN_B, "", "60", "dust_monitor"])
        w.writerow(["451221", "南丹县", "451200", "南丹某燃气公司", "储配站", "lpg_station", "107.5", "25.0", MN_C,
                    "", "60", ""])
    return path


@dataclass
class City:
    settings: Settings
    store: SqliteStore
    t0: int
    ids: dict[str, int]
    sites: dict[str, int]
    rules: RulesInForce

    def figures(self, by: str = "site", region: str | None = None, now_ms: int | None = None) -> dict[str, FigureRow]:
        rows = figures(self.store.db, ALL, by=by, region=region, start_ms=self.t0, end_ms=self.t0 + DAY,  # type: ignore[arg-type]
                       period="day", now_ms=now_ms or self.t0 + 4 * DAY, settings=self.settings, rules=self.rules,
                       catalogue=self.store.catalogue)
        return {r.entity.name: r for r in rows}

    def aggregate(self) -> None:
        Aggregator(self.settings, rules=lambda: self.rules, clock=lambda: (self.t0 + 4 * DAY) / 1000).run_pending(
            self.store.db)


def _fume(minute: int) -> float:
    if minute == 725:
        return 1.8
    return 1.5 if 720 <= minute < 730 else 0.5


@pytest.fixture
def city(tmp_path: Path) -> City:
    settings = settings_for(tmp_path)
    import_files(settings, [_sheet(tmp_path / "devices.csv")])
    store = SqliteStore(settings.db_path, Catalogue())
    db = store.db
    t0 = int(datetime(2026, 10, 5, tzinfo=settings.tz).timestamp() * 1000)
    ids = {mn: i for mn, i in db.execute("SELECT mn, id FROM devices")}
    sites = {name: i for name, i in db.execute("SELECT name, id FROM sites")}
    # the registry as it stood: registered the day before (site B's device at noon of the day)
    with db:
        db.execute("UPDATE devices SET registered_ms = ?", (t0 - DAY,))
        db.execute("UPDATE devices SET registered_ms = ? WHERE mn = ?", (t0 + 12 * HOUR, MN_B))
        db.execute("UPDATE site_status_changes SET effective_ms = ?, at_ms = ?", (t0 - DAY, t0 - DAY))
    a, b = ids[MN_A], ids[MN_B]
    fume = [("a34041", "Rtd", t0 + m * MIN, _fume(m), "D" if 300 <= m < 330 else "N")
            for m in range(1440) if not 60 <= m < 120]
    status = [(code, "RS", t0 + m * MIN, 1.0 if on else 0.0, "N") for m in range(540, 900)
              for code, on in (("SB1", 600 <= m < 840), ("SB2", 600 <= m < 840 and not 780 <= m < 810))]
    dust = [("a34001", "Rtd", t0 + m * MIN, 0.1, "N") for m in range(720, 1430)]
    store.write(IngestBatch(
        readings=[ReadingBatch(a, Kind.RTD, fume), ReadingBatch(a, Kind.STATUS, status),
                  ReadingBatch(b, Kind.RTD, dust)],
        activity={a: (t0, t0 + 1439 * MIN, 1380), b: (t0 + 720 * MIN, t0 + 1429 * MIN, 710)}))
    rules_set = load_effective_rules(settings.rules_path)
    rules: RulesInForce = (rules_set, build_catalog(*store.rule_context(), store.catalogue))
    with db:
        change_site_status(db, sites["储配站"], "stopped", reason="责令停产", effective_ms=t0 + 18 * HOUR, scope=ALL,
                           actor="city", origin="test", now_ms=t0 + DAY, tz=settings.tz)
        for rule, created, acked, closed, state in (
                ("fume.limit", t0 + 12 * HOUR + MIN, t0 + 12 * HOUR + 11 * MIN, t0 + 14 * HOUR + MIN, "closed"),
                ("fume.fan_without_purifier", t0 + 13 * HOUR + MIN, t0 + 13 * HOUR + 6 * MIN, None, "acknowledged"),
                ("data.flat", t0 + 5 * HOUR, None, None, "firing")):
            db.execute(
                "INSERT INTO alarms (rule_id, rule_version, subject, level, state, condition, live, site_id, site, "
                "title_zh, title_en, explanation_zh, explanation_en, first_ts, last_ts, created_ms, updated_ms, "
                "acked_ms, closed_ms) VALUES (?, 1, ?, 1, ?, 'cleared', 1, ?, '后厨', '', '', '', '', ?, ?, ?, ?, ?, ?)",
                (rule, f"{MN_A}/{rule}", state, sites["后厨"], created, created, created, created, acked, closed))
        check_timers(db, t0 + 4 * DAY, int(settings.ack_within_s * 1000), int(settings.close_within_s * 1000),
                     settings.tz, None)
    aggregates.mark_dirty(db, [(p, t0, t0 + DAY) for (p,) in db.execute("SELECT id FROM points")])
    c = City(settings, store, t0, ids, sites, rules)
    c.aggregate()
    yield c  # type: ignore[misc]
    store.close()


def _mark(city: City) -> int:
    db = city.store.db
    (point,) = db.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? "
                          "AND p.code = 'a34041'", (MN_A,)).fetchone()
    with db:
        mark_id = audit.mark(db, actor="city", scope=ALL, target="point", target_id=point,
                             start_ms=city.t0 + 3 * HOUR, end_ms=city.t0 + 3 * HOUR + 30 * MIN, valid=False,
                             reason="calibration", note="", now_ms=city.t0 + 2 * DAY)
    city.aggregate()
    return int(mark_id)


def test_site_figures_of_the_worked_example(city: City) -> None:
    _mark(city)
    rows = city.figures()
    a, b, c = rows["后厨"], rows["一号工地"], rows["储配站"]
    assert (a.records_due, a.records_received, a.records_valid) == (1440, 1380, 1320)
    assert (a.transmission_rate, a.validity_rate, a.effective_rate, a.assessed_pass) == (0.9583, 0.9565, 0.9167, True)
    assert (b.records_due, b.records_received, b.records_valid) == (720, 710, 710)
    assert (b.transmission_rate, b.validity_rate, b.effective_rate) == (0.9861, 1.0, 0.9861)
    assert (c.records_due, c.records_received, c.transmission_rate, c.validity_rate, c.effective_rate) == (
        1080, 0, 0.0, None, 0.0)
    assert c.assessed_pass is False
    assert (a.exceedances, a.exceedance_s, a.values_valid, a.exceedance_rate, a.max_multiple) == (
        10, 600.0, 1320, 0.0076, 0.8)
    assert (b.exceedances, b.max_multiple) == (0, None)
    assert (a.device_s_due, a.device_s_online, a.online_time_rate) == (86400.0, 82920.0, 0.9597)
    assert (b.device_s_due, b.device_s_online, b.online_time_rate) == (43200.0, 42720.0, 0.9889)
    assert (c.device_s_due, c.device_s_online, c.online_time_rate) == (64800.0, 0.0, 0.0)
    assert [(r.devices_due, r.devices_online, r.online_rate) for r in (a, b, c)] == [(1, 1, 1.0), (1, 0, 0.0),
                                                                                      (0, 0, None)]
    assert [(r.sites_due, r.sites_connected, r.networking_rate) for r in (a, b, c)] == [(1, 1, 1.0), (1, 1, 1.0),
                                                                                         (1, 0, 0.0)]
    assert (a.alarms, a.alarms_acknowledged, a.alarms_closed, a.alarms_open, a.alarms_overdue) == (3, 2, 1, 2, 2)
    assert (a.ack_median_s, a.ack_mean_s, a.close_median_s, a.close_mean_s) == (450.0, 450.0, 7200.0, 7200.0)
    assert (a.fan_on_s, a.purifier_with_fan_s, a.purifier_run_rate) == (14400.0, 12600.0, 0.875)
    assert (a.production_on_s, a.treatment_run_rate) == (0.0, None)


def test_district_figures_and_rankings(city: City) -> None:
    _mark(city)
    rows = city.figures(by="region", region="451200")
    assert set(rows) == {"金城江区", "南丹县"}
    jcj, nd = rows["金城江区"], rows["南丹县"]
    assert (jcj.records_due, jcj.records_received, jcj.records_valid) == (2160, 2090, 2030)
    assert (jcj.transmission_rate, jcj.validity_rate, jcj.effective_rate) == (0.9676, 0.9713, 0.9398)
    assert (jcj.sites, jcj.sites_due, jcj.sites_connected, jcj.networking_rate) == (2, 2, 2, 1.0)
    assert (jcj.devices_due, jcj.devices_online, jcj.online_rate) == (2, 1, 0.5)
    assert (jcj.device_s_due, jcj.device_s_online, jcj.online_time_rate) == (129600.0, 125640.0, 0.9694)
    assert (jcj.exceedances, jcj.exceedance_rate, jcj.max_multiple) == (10, 0.0049, 0.8)
    assert (nd.networking_rate, nd.online_rate, nd.effective_rate) == (0.0, None, 0.0)
    ranked = ranking_districts(list(rows.values()))
    assert [(r.rank, r.row.entity.code, r.value) for r in ranked] == [(1, "451202", 0.9398), (2, "451221", 0.0)]
    by_enterprise = city.figures(by="enterprise")
    top = ranking_enterprises(list(by_enterprise.values()))
    assert [(r.rank, r.row.entity.name, r.value) for r in top] == [
        (1, "河池某餐馆", 10.0), (2, "河池某建筑公司", 0.0), (2, "南丹某燃气公司", 0.0)]  # ties in the rows' order


def test_the_hour_and_day_values_behind_the_rates(city: City) -> None:
    _mark(city)
    db = city.store.db
    (point,) = db.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? "
                          "AND p.code = 'a34041'", (MN_A,)).fetchone()
    hours = {(r.start_ms - city.t0) // HOUR: r for r in aggregates.aggregates(db, [point], Period.HOUR, city.t0,
                                                                                city.t0 + DAY)}
    assert 1 not in hours and len(hours) == 23
    h3, h5, h12 = hours[3], hours[5], hours[12]
    assert (h3.n_received, h3.n_valid, h3.parts_valid, h3.valid, h3.flag) == (60, 30, 30, False, "I")
    assert (h5.n_received, h5.n_valid, h5.valid, h5.flag) == (60, 30, False, "D")
    assert (h12.n_received, h12.n_valid, h12.n_over, h12.over_ms, h12.max, h12.valid) == (60, 60, 10, 600_000, 1.8,
                                                                                          True)
    assert round(h12.avg or 0, 4) == 0.6717
    [day] = aggregates.aggregates(db, [point], Period.DAY, city.t0, city.t0 + DAY)
    assert (day.n_received, day.n_valid, day.n_over, day.parts, day.parts_valid, day.valid, day.flag) == (
        1380, 1320, 10, 23, 21, True, "N")
    assert (round(day.avg or 0, 4), day.max) == (0.5082, 1.8)


def test_an_audit_mark_recomputes_the_figures_and_revoking_it_restores_them(city: City) -> None:
    before = city.figures()["后厨"]
    assert (before.records_valid, before.validity_rate, before.effective_rate) == (1350, 0.9783, 0.9375)
    mark_id = _mark(city)
    marked = city.figures()["后厨"]
    assert (marked.records_valid, marked.validity_rate, marked.effective_rate) == (1320, 0.9565, 0.9167)
    with city.store.db:
        audit.revoke(city.store.db, actor="city", scope=ALL, mark_id=mark_id, note="标错了", now_ms=city.t0 + 3 * DAY)
    city.aggregate()
    assert city.figures()["后厨"] == before


def test_kept_days_give_the_same_figures_as_the_raw_data(city: City) -> None:
    live = city.figures()
    view = catalogue_view(city.settings.tz, city.settings.offline_after_intervals, city.store.catalogue, city.rules)
    with city.store.db:
        written = refresh_days(city.store.db, since_ms=city.t0, now_ms=city.t0 + DAY + HOUR, view=view,
                               rules=city.rules)
    assert written == (3, 3)
    with city.store.db:  # kept days are what is read: change one and the figure follows
        city.store.db.execute("UPDATE device_online_days SET online_ms = online_ms - 3600000 WHERE device_id = ?",
                              (city.ids[MN_A],))
    kept = city.figures()
    assert kept["一号工地"] == live["一号工地"]
    assert kept["后厨"].device_s_online == live["后厨"].device_s_online - 3600
    assert kept["后厨"].purifier_run_rate == live["后厨"].purifier_run_rate == 0.875


def test_the_command_line_gives_the_same_figures(city: City, capsys: pytest.CaptureFixture[str]) -> None:
    _mark(city)
    data = ["--data", str(city.settings.data_dir)]
    assert main([*data, "stats", "figures", "--day", "2026-10-05", "--by", "region", "--region", "451200",
                 "--format", "json"]) == 0
    rows = {r["entity"]["code"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["451202"]["effective_rate"], rows["451202"]["online_time_rate"]) == (0.9398, 0.9694)
    assert rows["451221"]["networking_rate"] == 0.0
    assert main([*data, "stats", "figures", "--month", "2026-10", "--per", "day", "--region", "451202"]) == 0
    table = capsys.readouterr().out
    assert "后厨" in table and "2026-10-05" in table and "95.83%" in table and "87.50%" in table
    assert main([*data, "stats", "rankings", "--day", "2026-10-05", "--region", "451200"]) == 0
    ranks = capsys.readouterr().out
    assert ranks.index("451202") < ranks.index("451221") and "93.98%" in ranks
    assert main([*data, "stats", "refresh-days", "--since", "2026-10-05"]) == 0
    assert "kept" in capsys.readouterr().out
    (kept,) = city.store.db.execute("SELECT online_ms FROM device_online_days WHERE device_id = ? AND day_ms = ?",
                                    (city.ids[MN_A], city.t0)).fetchone()
    assert kept == 82_920_000
    assert main([*data, "stats", "figures", "--month", "2026-10", "--region", "999999"]) != 0
    assert "none of your regions" in capsys.readouterr().err


def test_a_running_platform_keeps_each_finished_day_in_short_jobs(city: City) -> None:
    live = city.figures()
    view = catalogue_view(city.settings.tz, city.settings.offline_after_intervals, city.store.catalogue, city.rules)
    keeper = DayKeeper(view, submit_job=lambda job: None, clock=lambda: (city.t0 + 4 * DAY) / 1000, keep_days=4)
    pieces = 1
    while keeper.step(city.store.db, seconds=0.0):  # at least one day a piece
        pieces += 1
    # 4 days x (3 devices + 3 sites), one a piece, and each day's look at what it lacks a piece too
    assert keeper.kept == 24 and pieces == 28
    assert city.figures() == live
    (online,) = city.store.db.execute("SELECT online_ms FROM device_online_days WHERE device_id = ? AND day_ms = ?",
                                      (city.ids[MN_A], city.t0)).fetchone()
    assert online == 82_920_000
    assert not keeper.step(city.store.db) and keeper.kept == 24  # the next pass: nothing new to keep


def test_adding_up_sites_forgets_no_count() -> None:
    from forewarn.stats.figures import _ADDED, _Acc  # the sum behind every enterprise's and region's row

    one = _Acc(**{name: 1 for name in _ADDED})
    total = _Acc()
    total.add(one)
    total.add(one)
    assert all(getattr(total, name) == 2 for name in _ADDED)


def test_the_online_count_of_a_past_moment_survives_retention(city: City) -> None:
    before = city.figures()
    with city.store.db:  # retention: the raw real-time data gone, the aggregates kept
        city.store.db.execute("DELETE FROM readings_rtd")
    after = city.figures()
    def online(rows: dict[str, FigureRow]) -> dict[str, tuple[int, int]]:
        return {name: (r.devices_due, r.devices_online) for name, r in rows.items()}

    assert online(after) == online(before) == {"后厨": (1, 1), "一号工地": (1, 0), "储配站": (0, 0)}
