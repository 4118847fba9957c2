"""The overview and the region outlines on a real platform: every site of the user's scope on
the map with the state a regulator would call it, KPI tiles counted from real devices and real
alarms raised over HJ 212, filters that refuse values naming nothing, outlines of one's own
regions only, fetched once thanks to their ETag."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from forewarn.app import Platform
from forewarn.cli.regions import import_geojson_files
from tests.integration.api import DATONG_MN, HECHI_MN, TZ, Fleet, assert_problem, bearer, run
from tests.integration.harness import data_packet, send_stored

pytestmark = pytest.mark.integration


def lel_now(mn: str, minutes_ago: int, value: float) -> bytes:
    """A combustible gas reading (%LEL) taken ``minutes_ago`` minutes ago: 25 and more raises gas.lel."""
    at = datetime.fromtimestamp(time.time() - minutes_ago * 60, TZ).strftime("%Y%m%d%H%M00")
    return data_packet(mn, f"DataTime={at};GD1-LEL={value},GD1-Flag=N", qn=f"{at}000")


def square(code: str, name: str, lon: float) -> dict[str, object]:
    ring = [[lon, 24.0], [lon + 0.1, 24.0], [lon + 0.1, 24.1], [lon, 24.0]]
    return {"type": "Feature", "properties": {"code": code, "name": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def outlines_file(path: Path, *features: dict[str, object]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def test_each_user_sees_their_sites_in_the_state_they_are_in_and_the_tiles_count_them(fleet: Fleet) -> None:
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel_now(HECHI_MN, 2, 3.0), lel_now(HECHI_MN, 1, 40.0))  # gas.lel, level 1
        answer = await client.get("/api/v1/dashboard/overview", headers=bearer(t["city"]))
        assert answer.status_code == 200, answer.text
        city = answer.json()
        by_name = {s["name"]: s for s in city["sites"]}
        assert set(by_name) == {"储配站", "储配站二", "一号车间"}
        leak = by_name["储配站"]
        assert (leak["state"], leak["alarm_level"], leak["devices_online"], leak["devices_total"]) == ("alarm", 1, 1, 1)
        assert (leak["enterprise"], leak["region_code"], leak["region_name"], leak["site_type"]) == (
            "河池市液化石油气公司", "451202", "金城江区", "lpg_station")
        assert (leak["lon"], leak["lat"]) == (108.06, 24.69)
        assert by_name["储配站二"]["state"] == "offline" and by_name["储配站二"]["alarm_level"] is None
        assert by_name["一号车间"]["state"] == "offline"
        kpis = city["kpis"]
        assert (kpis["sites"], kpis["sites_expected"], kpis["sites_networked"], kpis["networking_rate"]) == (
            3, 3, 1, 0.3333)
        assert (kpis["devices_expected"], kpis["devices_online"], kpis["online_rate"]) == (3, 1, 0.3333)
        assert kpis["by_state"] == {"alarm": 1, "stopped": 0, "maintenance": 0, "offline": 2, "normal": 0}
        assert kpis["unresolved_by_level"] == [{"level": 1, "count": 1}]
        assert (kpis["unresolved"], kpis["exceedances_today"], kpis["not_closed"], kpis["overdue"]) == (1, 1, 1, 0)
        [newest] = city["newest_alarms"]
        assert (newest["rule_id"], newest["level"], newest["state"], newest["site"]) == ("gas.lel", 1, "firing", "储配站")
        assert newest["title"] == {"zh": "可燃气体浓度报警", "en": "Combustible gas alarm"}
        assert {r["code"] for r in city["regions"]} >= {"451202", "140213"}
        assert "lpg_station" in {st["id"] for st in city["site_types"]}
        assert city["map"] == {"tile_url": None, "outlines": 0}

        # a resolved alarm is no longer to be handled: the marker turns normal, the tile "not closed" keeps it
        alarm_id = newest["alarm_id"]
        for step, body in (("ack", {}), ("resolve", {"note": "阀门已关闭"})):
            done = await client.post(f"/api/v1/alarms/{alarm_id}/{step}", json=body, headers=bearer(t["city"]))
            assert done.status_code in (200, 201), done.text
        after = (await client.get("/api/v1/dashboard/overview", headers=bearer(t["city"]))).json()
        assert {s["name"]: s["state"] for s in after["sites"]}["储配站"] == "normal"
        assert (after["kpis"]["unresolved"], after["kpis"]["not_closed"]) == (0, 1)
        assert after["kpis"]["by_state"]["normal"] == 1

        hechi = (await client.get("/api/v1/dashboard/overview", headers=bearer(t["hechi"]))).json()
        assert {s["name"] for s in hechi["sites"]} == {"储配站", "储配站二"}
        assert hechi["kpis"]["sites"] == 2 and [r["code"] for r in hechi["regions"]] == ["451202"]
        datong = (await client.get("/api/v1/dashboard/overview", headers=bearer(t["datong"]))).json()
        assert [s["name"] for s in datong["sites"]] == ["一号车间"]
        assert datong["newest_alarms"] == [] and datong["kpis"]["not_closed"] == 0
        seen = json.dumps(datong, ensure_ascii=False)
        assert "河池市液化石油气公司" not in seen and "金城江区" not in seen and HECHI_MN not in seen
        gasco = (await client.get("/api/v1/dashboard/overview", headers=bearer(t["gasco"]))).json()
        assert {s["name"] for s in gasco["sites"]} == {"储配站", "储配站二"}

    run(fleet.settings, scenario)


def test_filters_narrow_the_map_and_refuse_values_that_name_nothing(fleet: Fleet) -> None:
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel_now(HECHI_MN, 1, 5.0), data_packet(DATONG_MN))

        async def overview(token: str, **query: str) -> dict[str, object]:
            answer = await client.get("/api/v1/dashboard/overview", params=query, headers=bearer(t[token]))
            assert answer.status_code == 200, answer.text
            return answer.json()  # type: ignore[no-any-return]

        def names(body: dict[str, object]) -> set[str]:
            return {s["name"] for s in body["sites"]}  # type: ignore[attr-defined,index]

        assert names(await overview("city", site_type="factory")) == {"一号车间"}
        assert names(await overview("city", region="451202")) == {"储配站", "储配站二"}
        offline = await overview("city", state="offline")
        assert names(offline) == {"储配站二"}
        assert offline["kpis"]["sites"] == 3  # type: ignore[index]  # the tiles keep their context
        assert names(await overview("city", state="normal")) == {"储配站", "一号车间"}

        bad = assert_problem(await client.get("/api/v1/dashboard/overview", params={"state": "red"},
                                              headers=bearer(t["city"])), 400)
        assert "state='red'" in str(bad["detail"]) and "alarm, stopped, maintenance, offline, normal" in str(bad["detail"])
        bad = assert_problem(await client.get("/api/v1/dashboard/overview", params={"site_type": "bakery"},
                                              headers=bearer(t["city"])), 400)
        assert "lpg_station" in str(bad["detail"])
        # another district's region is none of the user's: named as such, with the user's own listed
        bad = assert_problem(await client.get("/api/v1/dashboard/overview", params={"region": "140213"},
                                              headers=bearer(t["hechi"])), 400)
        assert "451202" in str(bad["detail"]) and "140200" not in str(bad["detail"])
        bad = assert_problem(await client.get("/api/v1/dashboard/overview", params={"regoin": "451202"},
                                              headers=bearer(t["city"])), 400)
        assert "'regoin'" in str(bad["detail"])
        assert_problem(await client.get("/api/v1/dashboard/overview"), 401)

    run(fleet.settings, scenario)


def test_outlines_are_the_users_own_regions_and_an_unchanged_answer_is_not_sent_again(
        fleet: Fleet, tmp_path: Path) -> None:
    t = fleet.tokens
    import_geojson_files(fleet.settings, [outlines_file(
        tmp_path / "two.geojson", square("451202", "金城江区", 108.0), square("140213", "平城区", 113.2))], actor="test")

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        hechi = await client.get("/api/v1/regions/outlines", headers=bearer(t["hechi"]))
        assert hechi.status_code == 200, hechi.text
        assert hechi.headers["content-type"].startswith("application/geo+json")
        body = hechi.json()
        assert body["type"] == "FeatureCollection"
        assert [(f["id"], f["properties"]) for f in body["features"]] == [
            ("451202", {"code": "451202", "name": "金城江区"})]
        assert body["features"][0]["geometry"]["type"] == "Polygon"
        city = (await client.get("/api/v1/regions/outlines", headers=bearer(t["city"]))).json()
        assert sorted(f["id"] for f in city["features"]) == ["140213", "451202"]
        factory = (await client.get("/api/v1/regions/outlines", headers=bearer(t["factory"]))).json()
        assert [f["id"] for f in factory["features"]] == ["140213"]  # the regions of its sites

        etag = hechi.headers["etag"]
        again = await client.get("/api/v1/regions/outlines", headers={**bearer(t["hechi"]), "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert (await client.get("/api/v1/regions/outlines", headers={**bearer(t["datong"]), "If-None-Match": etag})
                ).status_code == 200  # another scope, another answer
        overview = (await client.get("/api/v1/dashboard/overview", headers=bearer(t["hechi"]))).json()
        assert overview["map"]["outlines"] == 1

        import_geojson_files(fleet.settings, [outlines_file(tmp_path / "new.geojson", square("451202", "金城江区", 108.2))],
                             actor="test")
        changed = await client.get("/api/v1/regions/outlines", headers={**bearer(t["hechi"]), "If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.json()["features"][0]["geometry"]["coordinates"][0][0] == [108.2, 24.0]

    run(fleet.settings, scenario)
