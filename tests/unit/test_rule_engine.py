"""Timelines for each rule kind: readings in, exactly these events out, at these times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.rules.catalog import DeviceContext, RuleCatalog
from forewarn.rules.engine import Engine
from forewarn.rules.events import RuleEvent
from forewarn.rules.files import load_presets, load_rule_text, load_rules
from forewarn.rules.model import RuleSet
from forewarn.store.base import IngestBatch, ReadingBatch

T0 = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00
MIN = 60_000

GAS = DeviceContext(1, "GAS01", 30, "gas_station_rtu", 10, "储配站", "河池市液化石油气公司", "lpg_station",
                    "451202", "金城江区", T0 - 3600_000)
DUST = DeviceContext(2, "DUST01", 60, "dust_monitor", 11, "工地", "大同建工", "construction_site",
                     "140213", "平城区", T0 - 3600_000)
POWER = DeviceContext(3, "PWR01", 60, "power_meter", 12, "厂区", "云岚水泥", "factory", "140213", "平城区",
                      T0 - 3600_000)
FUME = DeviceContext(4, "FUME01", 60, "fume_monitor", 13, "后厨", "老字号饭店", "restaurant", "140213",
                     "平城区", T0 - 3600_000)

POINTS = {
    (1, "GD1", "LEL"): ("可燃气体浓度", "combustible_gas", "%LEL", "", None, None, "combustible gas"),
    (1, "T1", "Level"): ("1号储罐液位", "liquid_level", "%", "", 0.0, 100.0, "tank 1 level"),
    (3, "100001", "Pt"): ("1号生产线功率", "active_power", "kW", "production", None, None, "line 1 power"),
    (3, "100002", "Pt"): ("除尘设施功率", "active_power", "kW", "treatment", None, None, "dust collector power"),
}


def engine(rules: RuleSet | None = None, state: dict | None = None) -> Engine:  # type: ignore[type-arg]
    catalog = RuleCatalog({d.id: d for d in (GAS, DUST, POWER, FUME)}, POINTS, Catalogue())
    ruleset = rules or load_presets()
    return Engine(ruleset, {r: 1 for r in ruleset.rules}, catalog, state or {})


def feed(eng: Engine, device: int, code: str, field: str, values: list[tuple[int, float]],
         flag: str = "N", kind: Kind = Kind.RTD, now: int | None = None) -> list[RuleEvent]:
    """Each (minute offset, value) as its own batch, judged 'now' = its own time (live)."""
    events: list[RuleEvent] = []
    for minute, value in values:
        ts = T0 + int(minute * MIN)
        batch = IngestBatch(readings=[ReadingBatch(device, kind, [(code, field, ts, value, flag)])])
        eng.on_batch(batch, now if now is not None else ts)
        events += batch.rule_events
    return events


def brief(events: list[RuleEvent]) -> list[tuple[str, str, int, float]]:
    return [(e.rule_id, e.kind, e.level, (e.ts_ms - T0) / MIN) for e in events]


def test_combustible_gas_levels_with_hysteresis() -> None:
    events = feed(engine(), 1, "GD1", "LEL", [(0, 0), (1, 10), (2, 31.2), (3, 55), (4, 46), (5, 30), (6, 21), (7, 15)])
    assert brief(events) == [("gas.lel", "fire", 1, 2), ("gas.lel", "fire", 2, 3), ("gas.lel", "clear", 0, 7)]
    assert events[0].explanation_zh == "可燃气体浓度 31.2 %LEL ≥ 一级报警值 25 %LEL"
    assert events[0].explanation_en == "combustible gas 31.2 %LEL ≥ first-stage limit 25 %LEL"
    assert events[0].info.enterprise == "河池市液化石油气公司" and events[0].live


def test_threshold_waits_for_its_duration_and_says_how_long() -> None:
    events = feed(engine(), 1, "T1", "Level", [(0, 80), (1, 86), (1.5, 86.5), (2, 87)])
    assert brief(events) == [("gas.tank_level_high", "fire", 1, 2)]
    assert events[0].explanation_zh == "1号储罐液位 87 % ≥ 高液位 85 %，持续 1 分钟"


def test_a_restart_in_the_middle_of_a_for_window_neither_loses_nor_repeats() -> None:
    first = engine()
    for minute, value in [(0, 80), (1, 86), (1.5, 86.5)]:
        batch = IngestBatch(readings=[ReadingBatch(1, Kind.RTD, [("T1", "Level", T0 + int(minute * MIN), value, "N")])])
        first.on_batch(batch, T0 + int(minute * MIN))
        assert batch.rule_events == []
    stopping = IngestBatch()
    assert first.checkpoint(stopping) > 0  # what a stopping platform stores last
    checkpoint = stopping.rule_states
    restarted = engine(state={k: json.loads(v) for k, v in checkpoint.items()})
    events = feed(restarted, 1, "T1", "Level", [(1.5, 86.5), (2, 87), (3, 88)])  # the retry of 1.5 changes nothing
    assert brief(events) == [("gas.tank_level_high", "fire", 1, 2)]


def test_maintenance_and_calibration_flags_suppress_exceedance_and_a_fault_flag_alarms() -> None:
    eng = engine()
    assert feed(eng, 1, "GD1", "LEL", [(0, 60)], flag="M") == []
    assert feed(eng, 1, "GD1", "LEL", [(1, 60)], flag="C") == []
    events = feed(eng, 1, "GD1", "LEL", [(2, 0)], flag="D")
    assert brief(events) == [("dq.fault_flag", "fire", 2, 2)]
    assert "故障" in events[0].explanation_zh
    assert brief(feed(eng, 1, "GD1", "LEL", [(3, 0)])) == [("dq.fault_flag", "clear", 0, 3)]


def test_pm10_hourly_means_counted_in_a_day() -> None:
    eng = engine()
    values = [(h * 60 + m, 120.0 if h in (1, 3, 5) else 40.0) for h in range(7) for m in (0, 30)]
    events = feed(eng, 2, "a34002", "Rtd", values)
    # the third exceeding hour (05:00-06:00) is known when the 06:00 reading arrives
    assert brief(events) == [("dust.pm10_hours", "fire", 2, 360)]
    assert events[0].explanation_zh == "可吸入颗粒物小时均值超过 80 ug/m3 已 3 次（24 小时内，允许 2 次）"


def test_sudden_jump_flat_line_and_stuck_at_zero() -> None:
    eng = engine()
    assert brief(feed(eng, 2, "a34004", "Rtd", [(0, 30), (1, 600), (2, 610)])) == [
        ("dq.jump", "fire", 1, 1), ("dq.jump", "clear", 0, 2)]
    flat = feed(eng, 2, "a34001", "Rtd", [(m, 0.25) for m in range(0, 61, 10)] + [(70, 0.3)])
    assert brief(flat) == [("dq.flatline", "fire", 1, 60), ("dq.flatline", "clear", 0, 70)]
    zero = feed(eng, 2, "LA", "Rtd", [(m, 0.0) for m in range(0, 61, 15)])
    assert ("dq.zero", "fire", 1, 60) in brief(zero)


def test_outside_the_instruments_range_uses_the_points_limits() -> None:
    events = feed(engine(), 1, "T1", "Level", [(0, 50), (1, 104), (2, 60)])
    assert [e for e in brief(events) if e[0] == "dq.out_of_range"] == [
        ("dq.out_of_range", "fire", 1, 1), ("dq.out_of_range", "clear", 0, 2)]


def _power(eng: Engine, timeline: list[tuple[float, float, float]]) -> list[RuleEvent]:
    events = []
    for minute, production, treatment in timeline:
        ts = T0 + int(minute * MIN)
        batch = IngestBatch(readings=[ReadingBatch(3, Kind.RTD, [("100001", "Pt", ts, production, "N"),
                                                                   ("100002", "Pt", ts, treatment, "N")])])
        eng.on_batch(batch, ts)
        events += batch.rule_events
    return events


def test_production_on_and_treatment_off_for_ten_minutes() -> None:
    timeline = [(m, 80.0, 20.0) for m in range(0, 5)] + [(m, 80.0, 0.2) for m in range(5, 17)] + [(17, 80.0, 20.0)]
    events = [e for e in _power(engine(), timeline) if e.rule_id == "power.treatment_off"]
    assert brief(events) == [("power.treatment_off", "fire", 2, 15), ("power.treatment_off", "clear", 0, 17)]
    # the explanation names the equipment the registry knows, with its power
    assert events[0].explanation_zh == ("生产设施运行而治污设施未运行，持续 10 分钟：生产设施 1号生产线功率 80 kW 运行中；"
                                        "治污设施 除尘设施功率 0.2 kW 未运行")
    assert events[0].explanation_en.endswith(": production 1号生产线功率 (line 1 power) 80 kW running; "
                                             "treatment 除尘设施功率 (dust collector power) 0.2 kW off")


def test_late_start_and_early_stop() -> None:
    eng = engine()
    timeline = [(0, 0.0, 0.0), (1, 80.0, 0.0)] + [(m, 80.0, 0.0) for m in range(2, 20)] + [(20, 80.0, 20.0)]
    late = [e for e in _power(eng, timeline) if e.rule_id == "power.late_start"]
    assert brief(late) == [("power.late_start", "fire", 1, 20)]
    assert late[0].explanation_zh == ("治污设施在生产设施启动 19 分钟 后才启动（允许 15 分钟）：生产设施 1号生产线功率 80 kW "
                                      "运行中；治污设施 除尘设施功率 20 kW 运行中")
    early = [e for e in _power(eng, [(21, 80.0, 20.0), (22, 80.0, 0.0)]) if e.rule_id == "power.early_stop"]
    assert brief(early) == [("power.early_stop", "fire", 1, 22)]


def test_fan_running_with_purifier_off_from_status_data() -> None:
    eng = engine()
    events: list[RuleEvent] = []
    for minute, fan, purifier in [(0, 1, 1), (1, 1, 0), (2, 1, 0), (3, 1, 1)]:
        ts = T0 + minute * MIN
        batch = IngestBatch(readings=[ReadingBatch(4, Kind.STATUS, [("SB1", "RS", ts, fan, "N"), ("SB2", "RS", ts, purifier, "N")])])
        eng.on_batch(batch, ts)
        events += batch.rule_events
    assert brief(events) == [("fume.fan_without_purifier", "fire", 2, 2), ("fume.fan_without_purifier", "clear", 0, 3)]


def test_silence_goes_offline_once_and_coming_back_is_an_event() -> None:
    eng = engine()
    last_seen = {1: T0}
    early = eng.check_silence(T0 + 60_000, last_seen)  # 60 s < 3 x 30 s
    assert early is None or not [e for e in early.rule_events if e.info.mn == "GAS01"]
    batch = eng.check_silence(T0 + 120_000, last_seen)
    assert batch is not None and [(e.subject, e.kind) for e in batch.rule_events if e.info.mn == "GAS01"] == [
        ("device:GAS01", "fire")]
    again = eng.check_silence(T0 + 180_000, last_seen)
    assert again is None or not [e for e in again.rule_events if e.info.mn == "GAS01"]
    back = IngestBatch(activity={1: (T0 + 200_000, T0 + 200_000, 1)})
    eng.on_batch(back, T0 + 200_000)
    assert [(e.rule_id, e.kind) for e in back.rule_events] == [("dq.nodata", "clear")]


def test_backfill_after_an_outage_is_judged_in_its_own_time_but_not_live() -> None:
    now = T0 + 120 * MIN  # the device sends two-hour-old data after an outage
    events = feed(engine(), 1, "GD1", "LEL", [(0, 0), (1, 30), (2, 10)], now=now)
    assert brief(events) == [("gas.lel", "fire", 1, 1), ("gas.lel", "clear", 0, 2)]
    assert not any(e.live for e in events)


def test_a_reading_from_the_future_does_not_silence_what_happens_now() -> None:
    eng = engine()
    now = T0 + 10 * MIN
    # a device clock jumped three hours ahead once: stored, not judged
    future = IngestBatch(readings=[ReadingBatch(1, Kind.RTD, [("GD1", "LEL", now + 180 * MIN, 0.1, "N")])])
    eng.on_batch(future, now)
    assert future.rule_events == [] and future.counters["readings_not_judged_ahead"] == 1
    # the leak happening now is judged live and announced
    events = feed(eng, 1, "GD1", "LEL", [(10, 60)], now=now)
    assert brief(events) == [("gas.lel", "fire", 2, 10)] and all(e.live for e in events)


def test_older_and_repeated_readings_change_nothing() -> None:
    eng = engine()
    assert brief(feed(eng, 1, "GD1", "LEL", [(5, 30)])) == [("gas.lel", "fire", 1, 5)]
    assert feed(eng, 1, "GD1", "LEL", [(4, 0), (5, 0)]) == []


def test_overrides_are_most_specific_first(tmp_path: Path) -> None:
    local = tmp_path / "local.toml"
    local.write_text("""
[[override]]
rule = "gas.lel"
region = "4512"
params = { levels = [ { level = 1, value = 20.0, clear = 15.0 } ] }

[[override]]
rule = "gas.lel"
point = "GAS01/GD1-LEL"
params = { enabled = false }
""", encoding="utf-8")
    rules = load_rules([local])
    assert feed(engine(rules), 1, "GD1", "LEL", [(0, 90)]) == []
    rules.overrides.pop()
    assert brief(feed(engine(rules), 1, "GD1", "LEL", [(0, 21)])) == [("gas.lel", "fire", 1, 0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nid = "x"\nkind = "threshold"\ntitle_zh = "a"\ntitle_en = "a"\n', "t.toml:1: rule x: source is required"),
        ('[[rule]]\nid = "x"\nkind = "magic"\ntitle_zh = "a"\ntitle_en = "a"\nsource = "s"\n', "t.toml:3: rule x: kind 'magic' is unknown"),
        ('[[rule]]\nid = "x"\nkind = "threshold"\ntitle_zh = "a"\ntitle_en = "a"\nsource = "s"\n[rule.params]\nlevels = [{level = 1, value = 5, clear = 9}]\n',
         "rule x: levels[0].clear must be a number on the safe side"),
        ('[[override]]\nrule = "gas.lel"\nparams = { for_s = 1 }\n', "t.toml:1: override needs exactly one of"),
        ("[[rule]\n", "t.toml: "),
    ],
)
def test_rule_file_mistakes_name_their_line(text: str, message: str) -> None:
    from forewarn.rules.files import RuleFileError

    with pytest.raises(RuleFileError) as err:
        load_rule_text("t.toml", text)
    assert message in str(err.value)


def test_production_during_an_ordered_stop_or_above_its_allowed_share(tmp_path: Path) -> None:
    from forewarn.rules.emergency import load_calendar

    calendar = tmp_path / "calendar.toml"
    calendar.write_text("""
[[period]]
level = "orange"
region = "1402"
start = 2026-11-22T08:00:00+08:00
end = 2026-11-22T12:00:00+08:00
[[period.measure]]
enterprise = "云岚水泥"
action = "reduce"
percent = 30
baseline_kw = 100
""", encoding="utf-8")
    eng = engine()
    eng.calendar = load_calendar(calendar)
    before = feed(eng, 3, "100001", "Pt", [(-10, 95)])
    assert [e for e in before if e.rule_id == "power.emergency"] == []
    during = [e for e in feed(eng, 3, "100001", "Pt", [(0, 65), (10, 95), (20, 60)]) if e.rule_id == "power.emergency"]
    assert brief(during) == [("power.emergency", "fire", 3, 10), ("power.emergency", "clear", 0, 20)]
    assert during[0].explanation_zh == "重污染橙色预警期间要求减产 30%（不超过 70 kW），1号生产线功率 95 kW"


def test_treatment_idling_far_below_its_learned_baseline() -> None:
    timeline = [(m, 80.0, 20.0) for m in range(0, 30)] + [(m, 80.0, 3.0) for m in range(30, 62)]
    events = [e for e in _power(engine(), timeline) if e.rule_id == "power.idling"]
    assert brief(events) == [("power.idling", "fire", 1, 60)]
    assert events[0].explanation_zh == ("治污设施功率 3 低于基线 20 的 30%，而生产设施正常运行：生产设施 1号生产线功率 80 kW "
                                        "运行中；治污设施 除尘设施功率 3 kW 运行中")


def test_backfill_that_arrives_after_newer_data_is_judged_with_its_own_state() -> None:
    eng = engine()
    now = T0 + 60 * MIN
    assert feed(eng, 1, "GD1", "LEL", [(60, 0)], now=now) == []  # the device is back: current data first
    history = feed(eng, 1, "GD1", "LEL", [(10, 0), (11, 40), (12, 41), (13, 5)], now=now)
    assert brief(history) == [("gas.lel", "fire", 1, 11), ("gas.lel", "clear", 0, 13)]
    assert not any(e.live for e in history)
    assert feed(eng, 1, "GD1", "LEL", [(11, 40)], now=now) == []  # the same backfill again: nothing
    assert brief(feed(eng, 1, "GD1", "LEL", [(61, 30)], now=now + MIN)) == [("gas.lel", "fire", 1, 61)]


def test_a_device_whose_clock_is_a_few_minutes_slow_is_still_live() -> None:
    events = feed(engine(), 1, "GD1", "LEL", [(0, 40)], now=T0 + 11 * MIN)
    assert [e.live for e in events] == [True]


def test_meters_with_skewed_clocks_still_make_one_site() -> None:
    eng = engine()
    events: list[RuleEvent] = []
    for minute in range(0, 14):
        production_ts = T0 + (minute + 2) * MIN  # production's meter runs two minutes fast
        treatment_ts = T0 + minute * MIN
        treatment = 20.0 if minute < 5 else 0.2
        for device_rows in ([("100001", "Pt", production_ts, 80.0, "N")], [("100002", "Pt", treatment_ts, treatment, "N")]):
            batch = IngestBatch(readings=[ReadingBatch(3, Kind.RTD, device_rows)])
            eng.on_batch(batch, production_ts)
            events += batch.rule_events
    early = [e for e in events if e.rule_id == "power.early_stop"]
    assert [(e.kind) for e in early] == ["fire"]
    assert not [e for e in events if e.rule_id == "power.treatment_off" and e.ts_ms < T0 + 15 * MIN]


def test_a_treatment_trip_and_restart_is_not_a_late_start() -> None:
    timeline = ([(0, 80.0, 20.0)] + [(m, 80.0, 20.0) for m in range(1, 30)] + [(30, 80.0, 0.0), (31, 80.0, 0.0)]
                + [(32, 80.0, 20.0)])
    late = [e for e in _power(engine(), timeline) if e.rule_id == "power.late_start"]
    assert late == []


def test_overrides_are_checked_against_their_rule(tmp_path: Path) -> None:
    from forewarn.rules.files import RuleFileError

    bad = tmp_path / "bad.toml"
    bad.write_text('[[override]]\nrule = "gas.lel"\nregion = "4512"\nparams = { levels = "abc", fors = 60 }\n',
                   encoding="utf-8")
    with pytest.raises(RuleFileError) as err:
        load_rules([bad])
    assert f"{bad}:1: override of gas.lel: params.fors is not a parameter of a threshold rule" in str(err.value)
    assert "params.levels must be a list" in str(err.value)


def test_a_broken_rule_costs_its_own_judgement_only() -> None:
    rules = load_presets()
    rules.rules["gas.lel"] = rules.rules["gas.lel"].with_params({"levels": "abc"})  # as if unchecked
    events = feed(engine(rules), 1, "GD1", "LEL", [(0, 0)], flag="D")
    assert [e.rule_id for e in events] == ["dq.fault_flag"]


def test_the_platforms_own_downtime_is_one_event_and_silence_is_measured_from_the_last_contact() -> None:
    eng = engine()
    stopping = IngestBatch()
    eng.checkpoint(stopping, T0)  # the heartbeat of the last run
    restarted = engine(state={k: json.loads(v) for k, v in stopping.rule_states.items()})
    assert restarted.platform_down(T0 + 60_000) is None  # a one-minute restart is not an event
    down = restarted.platform_down(T0 + 60 * MIN)
    assert down is not None
    assert [(e.rule_id, e.kind, e.subject, e.live) for e in down.rule_events] == [
        ("dq.platform_down", "fire", "platform", True), ("dq.platform_down", "clear", "platform", False)]
    assert down.rule_events[0].explanation_zh.startswith("平台自 2026-11-22 08:00 至 2026-11-22 09:00 停机 60 分钟")
    batch = restarted.check_silence(T0 + 62 * MIN, {1: T0}, not_before_ms=T0 + 60 * MIN)
    assert batch is not None
    [gas] = [e for e in batch.rule_events if e.info.mn == "GAS01"]
    assert gas.explanation_zh == ("设备 GAS01 自 2026-11-22 08:00 起无数据，已 62 分钟（上报间隔 30 秒）；其中平台自身停机 60 分钟"
                                  "（2026-11-22 08:00 至 2026-11-22 09:00），平台恢复后 2 分钟 仍无数据")
    assert gas.group is not None and gas.group.key == f"restart:{T0 + 60 * MIN}"
    # a device silent while the platform ran is grouped by time, not by the restart
    fresh = engine()
    [alone] = [e for e in (fresh.check_silence(T0 + 2 * MIN, {1: T0}) or IngestBatch()).rule_events
               if e.info.mn == "GAS01"]
    assert alone.group is not None and (alone.group.key, alone.group.min_members) == ("offline", 5)
    assert alone.explanation_en == "device GAS01 silent since 2026-11-22 08:00, for 2 min (reports every 30 s)"


def test_treatment_off_rules_share_one_incident_and_their_evidence_follows_every_meter() -> None:
    timeline = [(m, 80.0, 20.0) for m in range(0, 5)] + [(m, 80.0, 0.2) for m in range(5, 16)]
    events = [e for e in _power(engine(), timeline) if e.kind == "fire"]
    assert [(e.rule_id, e.incident) for e in events] == [("power.early_stop", "treatment_not_running"),
                                                         ("power.treatment_off", "treatment_not_running")]
    start = T0 + 15 * MIN - 600_000 - 600_000 - 1  # its 10 minutes, and 10 minutes before them
    assert sorted(events[1].evidence) == [("PWR01", "100001", "Pt", "rtd", start, T0 + 15 * MIN),
                                          ("PWR01", "100002", "Pt", "rtd", start, T0 + 15 * MIN)]
