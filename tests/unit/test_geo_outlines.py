"""Region outlines from a deployer's GeoJSON: keyed by code wherever the file keeps it, every mistake named."""

from __future__ import annotations

import json

import pytest

from forewarn.geo.geojson import GeoJsonError, read_outlines

SQUARE = [[[108.0, 24.0], [108.1, 24.0], [108.1, 24.1], [108.0, 24.0]]]


def feature(props: dict[str, object], geometry: dict[str, object] | None = None, **extra: object) -> dict[str, object]:
    return {"type": "Feature", "properties": props,
            "geometry": geometry or {"type": "Polygon", "coordinates": SQUARE}, **extra}


def collection(*features: dict[str, object]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


def test_the_code_is_found_in_code_adcode_or_the_feature_id_and_same_codes_are_joined() -> None:
    outlines = read_outlines(collection(
        feature({"code": "451202", "name": "金城江区"}),
        feature({"adcode": 451221, "name": "南丹县"}),
        feature({"name": "天峨县"}, id="451222"),
        feature({"code": "451222", "name": "天峨县"}),
    ))
    by_code = {o.code: o for o in outlines}
    assert set(by_code) == {"451202", "451221", "451222"}
    assert json.loads(by_code["451202"].geometry) == {"type": "Polygon", "coordinates": SQUARE}
    joined = json.loads(by_code["451222"].geometry)
    assert joined["type"] == "MultiPolygon" and len(joined["coordinates"]) == 2
    assert by_code["451222"].positions == 8


def test_every_bad_feature_is_named_with_its_number_name_and_what_to_do() -> None:
    with pytest.raises(GeoJsonError) as caught:
        read_outlines(collection(
            feature({"name": "宜州市"}),
            feature({"code": "4512", "name": "短码"}),
            feature({"code": "451203"}, {"type": "Point", "coordinates": [108, 24]}),
            feature({"code": "451204"}, {"type": "Polygon", "coordinates": [[[12000000.0, 2800000.0]] * 4]}),
            feature({"code": "451205"}),
        ), "hechi.geojson")
    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("hechi.geojson: feature 1 (宜州市) has no region code")
    assert "'4512' is not a GB/T 2260 code" in problems[1]
    assert "feature 3 (code 451203): its geometry is a Point" in problems[2]
    assert "EPSG:4326" in problems[3]


@pytest.mark.parametrize("text", ["not json", '{"type": "Topology"}', '{"type": "FeatureCollection", "features": []}'])
def test_a_file_that_is_no_feature_collection_gets_one_line(text: str) -> None:
    with pytest.raises(GeoJsonError) as caught:
        read_outlines(text, "x.geojson")
    assert len(caught.value.problems) == 1 and "x.geojson" in str(caught.value)


def test_simplifying_keeps_the_shape_closed_and_drops_positions_on_straight_edges() -> None:
    from forewarn.geo.geojson import simplify_ring

    # a square with 10 positions on each edge and one sharp notch that must survive
    edge = [i / 10 for i in range(10)]
    ring = ([[x, 0.0] for x in edge] + [[1.0, y] for y in edge] + [[1.0 - x, 1.0] for x in edge]
            + [[0.0, 1.0 - y] for y in edge[:5]] + [[0.3, 0.5]] + [[0.0, 1.0 - y] for y in edge[6:]] + [[0.0, 0.0]])
    simple = simplify_ring(ring, 0.01)
    assert simple[0] == simple[-1] == [0.0, 0.0]
    assert [1.0, 0.0] in simple and [1.0, 1.0] in simple and [0.0, 1.0] in simple and [0.3, 0.5] in simple
    assert len(simple) <= 8 < len(ring)
