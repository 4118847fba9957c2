"""A site's page and its playback, against a real platform fed two hours of a restaurant's data.

The restaurant's oil-fume monitor reports fume every 10 s and its fan (SB1) and purifier (SB2)
running states every minute; in the two hours the fume goes over the local limit for ten
minutes and the purifier is switched off for ten minutes while the fan runs. What a regulator
would check: the limit shown is the rule's, the latest value is marked over it, the purifier's
OFF band is where it was off, the alarms are listed, and the playback around the fume alarm
holds the readings as stored (peaks kept when downsampled), the alarm's steps, and the device
online throughout; another district's administrator sees none of it.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from forewarn.access.users import create_user, issue_api_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.cli.registry import import_files
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import PASSWORD, assert_problem, bearer, run
from tests.integration.harness import eventually, settings_for

pytestmark = pytest.mark.integration

MN = "451202FUME00000000000001"
MINUTE = 60_000
#: the readings' minutes: 0 is two hours ago
FUME_OVER = range(70, 80)       # 1.5 mg/m3 (over the 1.0 local limit) from minute 70 to 79
PURIFIER_OFF = range(90, 100)   # purifier off while the fan runs
FAN_ON_FROM = 30
SPIKE = 3.3                     # one 10-s reading, kept by the downsampling


def _sheet(path: Path) -> Path:
    header = ["region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type", "longitude",
              "latitude", "mn", "password", "interval_s", "device_kind"]
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.writer(out)
        w.writerow(header)
        w.writerow(["451202", "金城江区", "451200", "河池某餐馆", "后厨", "restaurant", "108.06", "24.69", MN, "",
                    "60", "fume_monitor"])
        w.writerow(["140213", "平城区", "140200", "大同某工厂", "一号车间", "factory", "113.3", "40.1",
                    "140213DUST00000000000001", "", "60", ""])
    return path


@pytest.fixture
def restaurant(tmp_path: Path) -> tuple[Any, dict[str, str], int]:
    settings = settings_for(tmp_path, http_host="127.0.0.1", http_port=0)
    import_files(settings, [_sheet(tmp_path / "devices.csv")])
    store = SqliteStore(settings.db_path, Catalogue())
    try:
        kw = {"actor": "test", "origin": "test"}
        create_user(store.db, "city", PASSWORD, "city_admin", **kw)
        create_user(store.db, "hechi", PASSWORD, "district_admin", region_code="451202", **kw)
        create_user(store.db, "datong", PASSWORD, "district_admin", region_code="140213", **kw)
        tokens = {n: issue_api_token(store.db, n, **kw).token for n in ("city", "hechi", "datong")}
    finally:
        store.close()
    start = (int(time.time() * 1000) // MINUTE - 121) * MINUTE  # two hours ending a minute ago
    return settings, tokens, start


def _readings(start: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for minute in range(120):
        ts = start + minute * MINUTE
        for tenth in range(6):
            value = 1.5 if minute in FUME_OVER else 0.5
            if minute == 40 and tenth == 3:
                value = SPIKE
            if minute == 119 and tenth == 5:
                value = 2.5  # the latest value: over the national limit
            out.append({"mn": MN, "code": "a34041", "field": "Rtd", "kind": "rtd", "ts": ts + tenth * 10_000,
                        "value": value})
        fan = 1.0 if minute >= FAN_ON_FROM else 0.0
        purifier = 0.0 if minute < FAN_ON_FROM or minute in PURIFIER_OFF else 1.0
        out += [{"mn": MN, "code": "SB1", "field": "RS", "kind": "status", "ts": ts, "value": fan},
                {"mn": MN, "code": "SB2", "field": "RS", "kind": "status", "ts": ts, "value": purifier}]
    return out


async def _fed(platform: Platform, client: httpx.AsyncClient, tokens: dict[str, str], start: int) -> int:
    """Ingest the two hours; answer the site's id once the fume alarm has cleared."""
    answer = await client.post("/api/v1/ingest", json={"readings": _readings(start)}, headers=bearer(tokens["city"]))
    assert answer.status_code == 200, answer.text
    sites = await client.get("/api/v1/sites", headers=bearer(tokens["hechi"]))
    assert sites.status_code == 200, sites.text
    site_id = int(sites.json()["items"][0]["id"])
    db = platform.read_store.db
    await eventually(lambda: db.execute("SELECT COUNT(*) FROM alarms WHERE rule_id = 'fume.limit' AND "
                                        "condition = 'cleared'").fetchone()[0] == 1)
    return site_id


def test_site_detail_shows_limits_in_force_equipment_bands_and_alarms(restaurant: tuple[Any, dict[str, str], int]
                                                                       ) -> None:
    settings, tokens, start = restaurant

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        site_id = await _fed(platform, client, tokens, start)
        answer = await client.get(f"/api/v1/sites/{site_id}/detail", params={"from": start},
                                  headers=bearer(tokens["hechi"]))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["site"]["name"] == "后厨" and page["site"]["enterprise"] == "河池某餐馆"
        assert page["site"]["site_type_zh"] == "餐饮" or page["site"]["site_type"] == "restaurant"
        assert "金城江区" in page["site"]["address"]
        [device] = page["devices"]
        assert device["mn"] == MN and device["protocol"] == "hj212" and device["online"] is True
        assert device["last_contact"].endswith("+08:00")

        fume = next(v for v in page["values"] if v["code"] == "a34041")
        assert fume["unit"] == "mg/m3" and fume["value"] == 2.5
        assert [(lim["rule_id"], lim["value"], lim["level"]) for lim in fume["limits"]] == [
            ("fume.limit", 1.0, 1), ("fume.limit", 2.0, 2)]
        assert (fume["state"], fume["level"]) == ("over_limit", 2)
        fan = next(v for v in page["values"] if v["code"] == "SB1")
        assert fan["kind"] == "status" and fan["state"] == "no_limit"

        assert [(o["name"], o["kind"], o["rule_id"]) for o in page["equipment"]] == [
            ("fan", "status", "fume.fan_without_purifier"), ("purifier", "status", "fume.fan_without_purifier")]
        purifier_off = [(b["from_ms"], b["to_ms"]) for b in page["bands"] if b["operand"] == "purifier" and not b["on"]]
        assert (start + PURIFIER_OFF.start * MINUTE, start + PURIFIER_OFF.stop * MINUTE) in purifier_off
        fan_on = [(b["from_ms"], b["to_ms"]) for b in page["bands"] if b["operand"] == "fan" and b["on"]]
        assert len(fan_on) == 1 and fan_on[0][0] == start + FAN_ON_FROM * MINUTE

        rules = {a["rule_id"] for a in page["alarms"]}
        assert {"fume.limit", "fume.fan_without_purifier"} <= rules
        assert page["alarms_total"] == len(page["alarms"]) and page["cameras"] == []

        for outsider in ("datong",):
            assert_problem(await client.get(f"/api/v1/sites/{site_id}/detail", headers=bearer(tokens[outsider])), 404)
        assert_problem(await client.get(f"/api/v1/sites/{site_id}/detail", params={"from": start - 40 * 86_400_000},
                                        headers=bearer(tokens["hechi"])), 400)

    run(settings, scenario)


def test_playback_around_an_alarm_holds_the_stored_readings_steps_and_online_time(
        restaurant: tuple[Any, dict[str, str], int]) -> None:
    settings, tokens, start = restaurant

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        site_id = await _fed(platform, client, tokens, start)
        db = platform.read_store.db
        alarm_id, first_ts, cleared_ts = db.execute(
            "SELECT id, first_ts, cleared_ts FROM alarms WHERE rule_id = 'fume.limit'").fetchone()
        answer = await client.get("/api/v1/playback", params={"alarm": alarm_id}, headers=bearer(tokens["hechi"]))
        assert answer.status_code == 200, answer.text
        play = answer.json()
        assert play["site"]["id"] == site_id and play["alarm_id"] == alarm_id and play["t_ms"] == first_ts
        assert play["from_ms"] == first_ts - 3600_000 and play["to_ms"] == cleared_ts + 1800_000
        assert play["resolution_ms"] == MINUTE

        fume = next(s for s in play["series"] if s["code"] == "a34041")
        stored = db.execute("SELECT ts, value FROM readings_rtd r JOIN points p ON p.id = r.point_id "
                            "WHERE p.code = 'a34041' AND ts BETWEEN ? AND ? ORDER BY ts",
                            (play["from_ms"], play["to_ms"])).fetchall()
        assert fume["downsampled"] is True and len(fume["ts"]) < len(stored)
        assert set(zip(fume["ts"], fume["values"], strict=True)) <= set(stored)  # every row is a stored reading
        assert max(fume["values"]) == SPIKE  # the 10-second peak survives
        assert fume["before"] is not None and fume["before"][0] < play["from_ms"]
        assert [lim["value"] for lim in fume["limits"]] == [1.0, 2.0]

        steps = [(e["alarm_id"], e["step"], e["ts_ms"]) for e in play["events"]]
        assert (alarm_id, "fired", first_ts) in steps and (alarm_id, "cleared", cleared_ts) in steps
        assert any(a["id"] == alarm_id and a["cleared_ts_ms"] == cleared_ts for a in play["alarms"])
        [online] = play["online"]  # one device, reporting every minute: online throughout
        assert online["mn"] == MN and online["from_ms"] == play["from_ms"] and online["to_ms"] == play["to_ms"]
        assert {b["operand"] for b in play["bands"]} == {"fan", "purifier"}

        # by site, a window of one's choosing; bounded; out of scope is absent
        by_site = await client.get("/api/v1/playback", params={"site": site_id, "from": start,
                                                               "to": start + 120 * MINUTE},
                                   headers=bearer(tokens["hechi"]))
        assert by_site.status_code == 200, by_site.text
        status = {s["code"]: s for s in by_site.json()["series"]}
        assert len(status["SB1"]["ts"]) == 120 and status["SB1"]["downsampled"] is False
        too_long = await client.get("/api/v1/playback", params={"site": site_id, "from": start,
                                                                "to": start + 32 * 86_400_000},
                                    headers=bearer(tokens["hechi"]))
        assert "31 days" in assert_problem(too_long, 400)["detail"]  # type: ignore[operator]
        assert_problem(await client.get("/api/v1/playback", headers=bearer(tokens["hechi"])), 400)
        # a misspelt parameter is named, not silently ignored (a shared link would show the wrong window)
        typo = await client.get("/api/v1/playback", params={"site": site_id, "form": start},
                                headers=bearer(tokens["hechi"]))
        assert "form" in assert_problem(typo, 400)["detail"]  # type: ignore[operator]
        typo = await client.get(f"/api/v1/sites/{site_id}/detail", params={"too": start},
                                headers=bearer(tokens["hechi"]))
        assert "too" in assert_problem(typo, 400)["detail"]  # type: ignore[operator]
        for params in ({"site": site_id}, {"alarm": alarm_id}):
            assert_problem(await client.get("/api/v1/playback", params=params, headers=bearer(tokens["datong"])), 404)

    run(settings, scenario)
