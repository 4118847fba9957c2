"""The seed fleet data files: what the demo imports into the registry and the simulator plays."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict

import pytest

from forewarn.sim import fleet_files, fleet_regions_file, load_fleet, load_profiles
from forewarn.sim.fleet import DEVICE_COLUMNS, POINT_COLUMNS
from forewarn.sim.profiles import parse_profiles

# DOMAIN.md §5, exactly as the city listed them.
HECHI_ENTERPRISES = (
    "河池市金城江区拉友液化石油气有限公司",
    "河池市三鼎富多燃气有限责任公司",
    "河池市液化石油气公司",
    "广西宁铁燃气有限责任公司河池金茂分公司",
    "中国石化销售股份有限公司广西河池石油分公司中山加气站",
    "河池中燃城市燃气发展有限公司",
    "河池市宜州区木材公司液化石油气储配站",
    "河池市宜州区兴源液化石油气有限公司",
    "广西嘉和中油伯远新能源投资有限公司",
    "广西宜州市华商清洁能源有限公司",
    "广西河池广投燃气有限公司（L-CNG加气站）",
    "广西宜州市德胜德信石油液化气有限责任公司",
    "罗城县百盛燃气供应站",
    "环江兴源液化石油气有限公司",
    "南丹县百盛燃气供应有限公司",
    "南丹县远洋液化石油气储配站",
    "南丹县恒海燃气有限公司",
    "天峨县皇龙液化气销售有限责任公司",
    "天峨县林海液化气储配站",
    "广西天峨广投燃气有限公司",
    "东兰县远大液化石油气储配站",
    "巴马瑶族自治县三鑫液化气有限公司",
    "巴马瑶族自治县万达液化气储配站",
    "广西巴马国立燃气有限公司",
    "凤山县三鼎液化石油气储配站",
    "都安长青液化石油气有限公司",
    "都安亨达液化石油气有限公司",
    "广西都安国立燃气有限公司都安国立（液化天然气气化站）",
    "大化广茂液化石油气储配站",
    "大化县海源液化石油气储配站",
    "中国石化销售股份有限公司广西河池石油分公司西南加气站",
    "南丹县大渝天然气有限公司",
)

# GB/T 2260 county-level codes (140271 is listed as 山西大同经济开发区).
HECHI_COUNTIES = {
    "451202": "金城江区", "451203": "宜州区", "451221": "南丹县", "451222": "天峨县",
    "451223": "凤山县", "451224": "东兰县", "451225": "罗城仫佬族自治县",
    "451226": "环江毛南族自治县", "451227": "巴马瑶族自治县", "451228": "都安瑶族自治县",
    "451229": "大化瑶族自治县",
}
DATONG_COUNTIES = {
    "140212": "新荣区", "140213": "平城区", "140214": "云冈区", "140215": "云州区",
    "140221": "阳高县", "140222": "天镇县", "140223": "广灵县", "140224": "灵丘县",
    "140225": "浑源县", "140226": "左云县", "140271": "山西大同经济开发区",
}
SITE_TYPES = {"lpg_station", "gas_gate_station", "lng_gasification_station",
              "cng_lng_filling_station", "factory", "construction_site", "restaurant"}


def _rows(path: object) -> list[dict[str, str]]:
    with open(str(path), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_fleet_files_have_exactly_the_registry_import_columns() -> None:
    devices, points = fleet_files()
    with open(devices, encoding="utf-8") as f:
        assert f.readline().rstrip("\n") == ",".join(DEVICE_COLUMNS)
    with open(points, encoding="utf-8") as f:
        assert f.readline().rstrip("\n") == ",".join(POINT_COLUMNS)
    assert DEVICE_COLUMNS == (
        "region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type",
        "longitude", "latitude", "mn", "password", "protocol", "interval_s", "device_kind",
    )
    assert POINT_COLUMNS == (
        "mn", "code", "field", "name", "quantity", "unit", "lower", "upper", "role",
    )


def test_every_mn_is_unique_and_24_uppercase_hex_like_chars() -> None:
    mns = [d.mn for d in load_fleet()]
    assert len(mns) == len(set(mns))
    assert all(re.fullmatch(r"[0-9A-F]{24}", mn) for mn in mns)


def test_hechi_has_the_32_gas_enterprises_with_their_exact_names_one_station_each() -> None:
    hechi = [d for d in load_fleet() if d.parent_region_code == "451200"]
    assert len(HECHI_ENTERPRISES) == 32
    assert sorted(d.enterprise for d in hechi) == sorted(HECHI_ENTERPRISES)
    assert len({d.site for d in hechi}) == 32
    for d in hechi:
        assert d.kind == "gas_station_rtu" and d.interval_s == 30
        assert d.site_type in {"lpg_station", "gas_gate_station", "lng_gasification_station",
                               "cng_lng_filling_station"}
        assert HECHI_COUNTIES[d.region_code] == d.region_name


def test_hechi_enterprises_sit_in_the_county_their_name_says() -> None:
    checked = 0
    for d in load_fleet():
        for code, county in HECHI_COUNTIES.items():
            if county[:2] in d.enterprise:  # 南丹县…, 广西天峨…, 都安…, 河池市宜州区…
                assert d.region_code == code, d.enterprise
                checked += 1
    assert checked >= 24


def test_every_device_row_carries_a_gb2260_county_under_its_city() -> None:
    known = {"451200": HECHI_COUNTIES, "140200": DATONG_COUNTIES}
    for d in load_fleet():
        assert known[d.parent_region_code][d.region_code] == d.region_name
        assert d.protocol == "hj212"
        assert d.site_type in SITE_TYPES
        assert re.fullmatch(r"\d+\.\d{6}", f"{d.longitude:.6f}")
    regions = {r["region_code"]: r for r in _rows(fleet_regions_file())}
    assert regions["451200"]["region_name"] == "河池市"
    assert regions["451200"]["parent_region_code"] == "450000"
    assert regions["140200"]["region_name"] == "大同市"
    assert regions["140200"]["parent_region_code"] == "140000"
    for code, name in {**HECHI_COUNTIES, **DATONG_COUNTIES}.items():
        assert regions[code]["region_name"] == name


def test_coordinates_are_near_their_city() -> None:
    boxes = {"451200": (106.5, 109.5, 23.3, 25.5), "140200": (112.3, 114.7, 39.0, 40.8)}
    for d in load_fleet():
        west, east, south, north = boxes[d.parent_region_code]
        assert west < d.longitude < east and south < d.latitude < north, d.site


def test_datong_fleet_has_factories_sites_and_kitchens_with_the_right_devices() -> None:
    datong = [d for d in load_fleet() if d.parent_region_code == "140200"]
    by_site: dict[str, set[str]] = defaultdict(set)
    for d in datong:
        by_site[d.site].add(d.kind)
        assert d.interval_s == 60
    factories = {d.site for d in datong if d.site_type == "factory"}
    assert len(factories) >= 10
    assert all(by_site[s] == {"dust_monitor", "power_meter"} for s in factories)
    kinds = Counter(d.site_type for d in datong if d.kind != "power_meter")
    assert kinds["construction_site"] >= 5
    assert kinds["restaurant"] >= 8
    for d in datong:
        if d.site_type == "restaurant":
            assert d.kind == "fume_monitor" and d.region_code in {"140213", "140214"}
        if d.site_type == "construction_site":
            assert d.kind == "dust_monitor"
    assert {d.region_code for d in datong} == set(DATONG_COUNTIES)


def test_power_meters_have_production_and_treatment_meters_with_ia_ua_pt_ept() -> None:
    for d in load_fleet():
        if d.kind != "power_meter":
            continue
        codes = d.codes()
        assert 2 <= len(codes) <= 3 and all(re.fullmatch(r"1000\d\d", c) for c in codes)
        roles = {p.role for p in d.points}
        assert roles == {"production", "treatment"}
        for code in codes:
            points = d.points_of(code)
            assert [p.field for p in points] == ["Ia", "Ua", "Pt", "Ept"]
            assert [p.unit for p in points] == ["A", "V", "kW", "kWh"]
            assert [p.quantity for p in points] == ["current", "voltage", "active_power", "energy"]
            assert len({p.name for p in points}) == 1


def test_gas_rtus_have_two_tanks_and_three_detectors() -> None:
    for d in load_fleet():
        if d.kind != "gas_station_rtu":
            continue
        assert d.codes() == ["T1", "T2", "GD1", "GD2", "GD3"]
        fields = {(p.code, p.field): (p.quantity, p.unit) for p in d.points}
        assert fields[("T1", "Level")] == ("liquid_level", "%")
        assert fields[("T2", "Pres")] == ("pressure", "MPa")
        assert fields[("T1", "Temp")] == ("temperature", "℃")
        assert fields[("GD3", "LEL")] == ("combustible_gas", "%LEL")
        assert all(p.role == "" for p in d.points)


def test_dust_and_fume_monitors_need_no_point_rows() -> None:
    for d in load_fleet():
        if d.kind in {"dust_monitor", "fume_monitor"}:
            assert d.points == ()


def test_every_point_row_belongs_to_a_device() -> None:
    devices, points = fleet_files()
    mns = {r["mn"] for r in _rows(devices)}
    assert {r["mn"] for r in _rows(points)} <= mns


def test_profiles_give_each_kind_its_st_code() -> None:
    profiles = load_profiles()
    assert profiles.for_device("dust_monitor", "factory").st == "39"
    assert profiles.for_device("fume_monitor", "restaurant").st == "31"
    assert profiles.for_device("power_meter", "factory").st == "80"
    assert profiles.for_device("gas_station_rtu", "lpg_station").st == "A1"
    construction = profiles.for_device("dust_monitor", "construction_site").fields["a34002"]
    factory = profiles.for_device("dust_monitor", "factory").fields["a34002"]
    assert construction.amplitude > factory.amplitude


def test_a_typo_in_a_profile_is_reported_with_its_key() -> None:
    text = '[dust_monitor]\nst = "39"\nsend = ["2011"]\n[dust_monitor.fields.a34002]\nbsae = 1\n'
    with pytest.raises(ValueError, match=r"dust_monitor\.fields\.a34002.*bsae"):
        parse_profiles(text)


def test_a_field_following_an_undefined_field_is_rejected() -> None:
    text = '[x]\nst = "39"\nsend = ["2011"]\n[x.fields.a]\nfollows = "b"\n'
    with pytest.raises(ValueError, match="follows 'b'"):
        parse_profiles(text)
