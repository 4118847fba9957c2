"""A registry reload rebuilds the rule catalogue from the rows as read: what changed is named,
the rest is the previous catalogue's own objects, and points read the same either way."""

from __future__ import annotations

import json
from typing import Any

from forewarn.catalogue import Catalogue
from forewarn.rules.loader import build_catalog, refresh_catalog

T0 = 1_795_305_600_000


def device_row(device_id: int, site: str = "储配站") -> tuple[Any, ...]:
    return (device_id, f"MN{device_id:04d}", 30, "gas_station_rtu", 10 + device_id, site, "河池市液化石油气公司",
            "lpg_station", "451202", "金城江区", T0)


def point_rows(device_id: int, upper: float | None = 100.0) -> list[tuple[Any, ...]]:
    return [(device_id, "GD1", "LEL", "", "combustible_gas", "%LEL", "", None, None),
            (device_id, "T1", "Level", "1号储罐液位", "liquid_level", "%", "", 0.0, upper)]


def texts(rows: list[tuple[Any, ...]]) -> list[tuple[int, str]]:
    """Each device's points as the store's ``catalog_rows`` gives them: one JSON text a device."""
    by_device: dict[int, list[list[Any]]] = {}
    for device_id, code, field, name, quantity, unit, role, lower, upper in rows:
        by_device.setdefault(device_id, []).append([code, field, name, quantity, unit, role, lower, upper])
    return [(d, json.dumps(points, ensure_ascii=False)) for d, points in by_device.items()]


def test_a_refresh_names_only_the_devices_that_changed_and_keeps_the_others_objects() -> None:
    catalogue = Catalogue()
    devices = [device_row(1), device_row(2), device_row(3)]
    points = point_rows(1) + point_rows(2) + point_rows(3)
    first, changed = refresh_catalog(devices, texts(points), catalogue, None)
    assert changed == {1, 2, 3}

    same, changed = refresh_catalog(devices, texts(points), catalogue, first)
    assert changed == set()
    assert same.devices[1] is first.devices[1] and same.points_by_device[2] is first.points_by_device[2]

    # device 2's site renamed, device 3's tank limit moved, device 1 untouched
    devices = [device_row(1), device_row(2, "新站"), device_row(3)]
    points = point_rows(1) + point_rows(2) + point_rows(3, upper=90.0)
    after, changed = refresh_catalog(devices, texts(points), catalogue, same)
    assert changed == {2, 3}
    assert after.devices[1] is same.devices[1] and after.points_by_device[1] is same.points_by_device[1]
    assert after.devices[2].site == "新站"
    level = after.point(3, "T1", "Level")
    assert level is not None and level.meta.upper == 90.0

    # device 3 retired (no longer among the active rows) and its points gone: it changed too
    gone, changed = refresh_catalog(devices[:2], texts(point_rows(1) + point_rows(2)), catalogue, after)
    assert changed == {3}
    assert gone.point(3, "T1", "Level") is None


def test_a_refreshed_catalogue_reads_every_point_as_one_built_from_plain_rows() -> None:
    catalogue = Catalogue()
    devices = [device_row(1), device_row(2)]
    points = point_rows(1) + point_rows(2, upper=None)
    plain = build_catalog(devices, points, catalogue)
    refreshed, _ = refresh_catalog(devices, texts(points), catalogue, None)
    for device_id, code, field, *_ in points:
        assert refreshed.point(device_id, code, field) == plain.point(device_id, code, field)
    # an unnamed point takes its name from the factor catalogue; an unregistered one its template
    lel = refreshed.point(1, "GD1", "LEL")
    assert lel is not None and lel.meta.name_zh == catalogue.point_template("GD1", "LEL").name_zh
    assert refreshed.point(1, "a34002", "Rtd") == plain.point(1, "a34002", "Rtd")
