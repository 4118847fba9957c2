"""What the field trial found wrong with alarms (issue 12, items 1, 2 and 5), on the real platform:
a restart after an hour down, a district's devices going silent together, a gas leak's course,
and a factory's treatment switched off while it produces."""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from forewarn.app import Platform
from forewarn.cli.registry import import_files
from forewarn.config import Settings
from tests.integration.api import HECHI_MN, HECHI_MN2, Fleet, bearer, fleet, run  # noqa: F401 (fleet is a fixture)
from tests.integration.harness import data_packet, eventually, register, send_stored, settings_for

T0 = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00
HOUR = 3_600_000


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


@asynccontextmanager
async def platform_at(settings: Settings, clock: Clock) -> AsyncIterator[Platform]:
    platform = Platform(settings, clock=clock)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


def query(settings: Settings, sql: str, *args: object) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(settings.db_path)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def dead_webhook(settings: Settings) -> None:
    """Every notice is queued in the outbox (and never delivered): what a duty phone would get."""
    settings.notify_path.write_text(
        '[[channel]]\nname = "duty"\nkind = "webhook"\nurl = "http://127.0.0.1:9/"\nsecret = "x"\n\n'
        '[[route]]\nevents = ["fired", "escalated"]\nchannels = ["duty"]\n', encoding="utf-8")


def notices(settings: Settings) -> list[tuple[str, str, str]]:
    """(event, headline, text) of every queued notice."""
    out = []
    for event, payload in query(settings, "SELECT event, payload FROM outbox ORDER BY id"):
        body = json.loads(payload)
        out.append((event, body["headline_zh"], body["explanation_zh"]))
    return out


def lel(mn: str, second: int, value: float) -> bytes:
    mm, ss = divmod(second, 60)
    return data_packet(mn, f"DataTime=2026112208{mm:02d}{ss:02d};GD1-LEL={value},GD1-Flag=N",
                       qn=f"2026112208{mm:02d}{ss:02d}000")


def test_a_restart_after_an_hour_down_blames_no_device_and_their_silence_is_one_storm(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ack_within_s=300)
    mns = [f"451202A1FE000000000001{i:02d}" for i in range(6)]
    register(settings, tmp_path, [{"mn": mn, "site": f"储配站{i}"} for i, mn in enumerate(mns)])
    dead_webhook(settings)
    clock = Clock(T0)

    async def before() -> None:
        async with platform_at(settings, clock) as platform:
            for mn in mns:
                await send_stored(platform, lel(mn, 0, 0))

    asyncio.run(before())
    clock.ms = T0 + HOUR  # the platform was down for an hour; the devices stay silent

    async def after() -> None:
        async with platform_at(settings, clock):
            clock.ms += 100_000  # past three 30 s intervals since the restart
            await eventually(lambda: len(query(settings, "SELECT id FROM alarms WHERE rule_id = 'dq.nodata'")) == 6)
            clock.ms += 300_001  # nobody acknowledged within ack_within_s
            await eventually(lambda: query(settings, "SELECT MIN(escalated) FROM alarms")[0][0] == 1)

    asyncio.run(after())
    [(down_id, down_text)] = query(settings, "SELECT id, explanation_zh FROM alarms WHERE rule_id = 'dq.platform_down'")
    assert down_text.startswith("平台自 2026-11-22 08:00 至 2026-11-22 09:00 停机 60 分钟")
    silent = query(settings, "SELECT mn, explanation_zh, group_id FROM alarms WHERE rule_id = 'dq.nodata' ORDER BY mn")
    for mn, text, _ in silent:
        # measured from the device's last contact, with the platform's own part named
        assert text == (f"设备 {mn} 自 2026-11-22 08:00 起无数据，已 61 分钟（上报间隔 30 秒）；其中平台自身停机 60 分钟"
                        f"（2026-11-22 08:00 至 2026-11-22 09:00），平台恢复后 1 分钟 仍无数据")
    [(group_id,)] = {(g,) for _, _, g in silent}
    assert group_id is not None
    assert query(settings, "SELECT key, cause_alarm_id FROM alarm_groups") == [(f"restart:{T0 + HOUR}", down_id)]
    heard = notices(settings)
    # one notice of the downtime and one of the storm (not six), then one escalation of each
    assert [(e, h) for e, h, _ in heard] == [("fired", "新告警"), ("fired", "设备批量离线"), ("escalated", "告警升级"),
                                             ("escalated", "告警升级")]
    assert heard[1][2].startswith(f"告警组 #{group_id}：金城江区共 6 台设备同时无数据，可一并处置。其一：设备 ")
    assert "本区域 6 条同组告警" in heard[3][2]


def test_devices_going_silent_together_are_heard_once_per_region(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    district = [f"451202A1FE000000000002{i:02d}" for i in range(4)]
    other = [f"451203A1FE000000000003{i:02d}" for i in range(2)]
    register(settings, tmp_path, [{"mn": mn, "site": f"储配站{mn[-2:]}"} for mn in district] + [
        {"mn": mn, "site": f"加气站{mn[-2:]}", "region_code": "451203", "region_name": "宜州区"} for mn in other])
    dead_webhook(settings)
    clock = Clock(T0)

    async def scenario() -> None:
        async with platform_at(settings, clock) as platform:
            for mn in district + other:
                await send_stored(platform, lel(mn, 0, 0))
            clock.ms = T0 + 100_000  # a network outage: all six silent past three intervals
            await eventually(lambda: len(query(settings, "SELECT id FROM alarms WHERE rule_id = 'dq.nodata'")) == 6)

    asyncio.run(scenario())
    groups = query(settings, "SELECT DISTINCT group_id FROM alarms WHERE rule_id = 'dq.nodata'")
    assert len(groups) == 1 and groups[0][0] is not None
    assert query(settings, "SELECT key FROM alarm_groups") == [("offline",)]
    texts = sorted(text for event, _, text in notices(settings) if event == "fired")
    assert len(texts) == 2  # one per region, not one per device
    assert texts[0].startswith("告警组 #1：宜州区共 2 台设备同时无数据")
    assert texts[1].startswith("告警组 #1：金城江区共 4 台设备同时无数据")
    # the silence is measured from the last contact, which was not long ago
    assert "自 2026-11-22 08:00 起无数据，已 1 分钟（上报间隔 30 秒）" in texts[0] and "平台" not in texts[0]


def test_a_gas_leak_keeps_its_course_with_its_peak_and_duration(fleet: Fleet) -> None:  # noqa: F811
    city = bearer(fleet.tokens["city"])
    leak = [(0, 0), (30, 0), (60, 26), (90, 35), (120, 46.8), (150, 48.2), (180, 44), (240, 38), (300, 30)]
    after = [(360, 24), (384, 10), (420, 5)]

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, *(lel(HECHI_MN, s, v) for s, v in leak))
        ongoing = (await client.get("/api/v1/alarms/1", headers=city)).json()
        # while it lasts: everything since before it began, read from the readings, peak so far
        assert [e["value"] for e in ongoing["evidence"]] == [v for _, v in leak]
        course = ongoing["course"]
        assert course["ongoing"] is True and course["end_ts"] is None
        assert course["start_ts"] == "2026-11-22T08:01:00+08:00" and course["from_ts"] <= "2026-11-22T08:00:00+08:00"
        assert (course["peak"]["value"], course["peak"]["ts"], course["peak"]["unit"]) == (
            48.2, "2026-11-22T08:02:30+08:00", "%LEL")
        await send_stored(platform, *(lel(HECHI_MN, s, v) for s, v in after))
        done = (await client.get("/api/v1/alarms/1", headers=city)).json()
        # cleared: the course is kept on the alarm, up to the reading that ended it
        assert [e["value"] for e in done["evidence"]] == [v for _, v in leak] + [24, 10]
        assert done["course"]["ongoing"] is False and done["course"]["end_ts"] == "2026-11-22T08:06:24+08:00"
        assert done["course"]["duration_s"] == 324  # 5.4 minutes
        assert done["course"]["peak"]["value"] == 48.2

    run(fleet.settings, scenario)
    stored = query(fleet.settings, "SELECT ts, value FROM alarm_evidence WHERE alarm_id = 1 ORDER BY ts")
    assert [v for _, v in stored] == [v for _, v in leak] + [24, 10]  # copied, not only read


def _factory(settings: Settings, tmp_path: Path, mn: str) -> None:
    devices = tmp_path / "factory.csv"
    with devices.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type",
                    "longitude", "latitude", "mn", "password", "interval_s", "device_kind"])
        w.writerow(["140213", "平城区", "140200", "大同市冶炼厂", "冶炼车间", "factory", "113.3", "40.08", mn,
                    "123456", "60", "power_meter"])
    points = tmp_path / "points.csv"
    with points.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(["mn", "code", "field", "name", "quantity", "unit", "role"])
        w.writerow([mn, "100001", "Pt", "冶炼炉", "active_power", "kW", "production"])
        w.writerow([mn, "100002", "Pt", "布袋除尘设施", "active_power", "kW", "treatment"])
    import_files(settings, [devices, points])


def test_treatment_switched_off_while_producing_is_one_alarm_naming_the_equipment_and_its_power(
        tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    mn = "14021380FE00000000000099"
    _factory(settings, tmp_path, mn)

    def minute(m: int, furnace: float, collector: float) -> bytes:
        return data_packet(mn, f"DataTime=202611220{8 + m // 60}{m % 60:02d}00;100001-Pt={furnace},100001-Flag=N;"
                               f"100002-Pt={collector},100002-Flag=N", qn=f"20261122{8 + m // 60:02d}{m % 60:02d}00000")

    # the furnace runs all along; its dust collector is switched off from minute 5 to minute 17
    timeline = [(m, 85.2, 20.5) for m in range(5)] + [(m, 85.2, 0.3) for m in range(5, 17)] + [(17, 85.2, 20.5)]
    async def scenario() -> None:
        async with platform_at(settings, Clock(T0 + 18 * 60_000)) as platform:  # live data, not a backfill
            await send_stored(platform, *(minute(m, f, c) for m, f, c in timeline))

    asyncio.run(scenario())
    found = query(settings, "SELECT id, rule_id, level, condition, explanation_zh, explanation_en FROM alarms")
    assert len(found) == 1, found  # one incident, one alarm (not early stop and treatment off apart)
    [(alarm_id, rule_id, level, condition, zh, en)] = found
    assert (rule_id, level, condition) == ("power.treatment_off", 2, "cleared")
    assert zh == ("生产设施运行而治污设施未运行，持续 10 分钟：生产设施 冶炼炉 85.2 kW 运行中；治污设施 布袋除尘设施 0.3 kW 未运行")
    assert en.endswith("production 冶炼炉 (100001 total active power) 85.2 kW running; "
                       "treatment 布袋除尘设施 (100002 total active power) 0.3 kW off")
    steps = query(settings, "SELECT step, note FROM alarm_steps WHERE alarm_id = ? ORDER BY id", alarm_id)
    assert [s for s, _ in steps] == ["fired", "escalated", "cleared"]
    # the first sign (stopped early) already named the collector that stopped and the furnace that ran
    assert steps[0][1] == "生产设施仍在运行时治污设施停止：生产设施 冶炼炉 85.2 kW 运行中；治污设施 布袋除尘设施 0.3 kW 未运行"


def test_a_storms_alarms_are_listed_by_their_group_within_ones_scope(fleet: Fleet) -> None:  # noqa: F811
    settings = fleet.settings
    settings.rules_path.mkdir(parents=True, exist_ok=True)
    (settings.rules_path / "storm.toml").write_text(
        '[[override]]\nrule = "dq.nodata"\nregion = "4"\nparams = { storm_devices = 2 }\n'
        '[[override]]\nrule = "dq.nodata"\nregion = "1"\nparams = { storm_devices = 2 }\n', encoding="utf-8")
    clock = Clock(int(time.time() * 1000))

    async def scenario() -> None:
        platform = Platform(settings, clock=clock, http=True)
        await platform.start()
        try:
            clock.ms += 100_000  # none of the three devices has reported: silent past three intervals
            await eventually(lambda: len(query(settings, "SELECT id FROM alarms WHERE rule_id = 'dq.nodata'")) == 3)
            [(group_id,)] = query(settings, "SELECT DISTINCT group_id FROM alarms WHERE rule_id = 'dq.nodata'")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}", timeout=10) as client:
                async def listed(who: str) -> list[str]:
                    answer = await client.get("/api/v1/alarms", params={"group": str(group_id)},
                                              headers=bearer(fleet.tokens[who]))
                    assert answer.status_code == 200, answer.text
                    assert {a["group_id"] for a in answer.json()["items"]} <= {group_id}
                    return sorted(a["mn"] for a in answer.json()["items"])

                assert len(await listed("city")) == 3
                assert await listed("hechi") == sorted([HECHI_MN, HECHI_MN2])  # the district's own only
                shown = (await client.get("/api/v1/alarms", params={"group": str(group_id + 1)},
                                          headers=bearer(fleet.tokens["city"]))).json()
                assert shown["items"] == []
                hechi = bearer(fleet.tokens["hechi"])
                first = (await client.get("/api/v1/alarms", headers=hechi)).json()["items"][0]["id"]
                one = (await client.get(f"/api/v1/alarms/{first}", headers=hechi)).json()
                assert one["group"]["id"] == group_id and one["group"]["cause"] == "offline_storm"
                assert "从未上报" in one["explanation"]  # never heard: said so, not "1 minute"
        finally:
            await platform.stop()

    asyncio.run(scenario())
