"""The HTTP API on a real platform: uvicorn on 127.0.0.1 port 0, httpx, real SQLite."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest

from forewarn.app import Platform
from tests.integration.api import (
    DATONG_MN,
    HECHI_MN,
    HECHI_MN2,
    TS_MS,
    Fleet,
    assert_problem,
    bearer,
    rows,
    run,
)
from tests.integration.harness import FakeDevice, data_packet

pytestmark = pytest.mark.integration


def test_health_metrics_openapi_and_unknown_routes(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        health = await client.get("/api/v1/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"

        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(data_packet(HECHI_MN))
        assert (await dev.answer()).cn == "9014"
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert "forewarn_readings_stored_total 1" in text
        assert "forewarn_packets_accepted_total 1" in text
        assert "forewarn_hj212_connections 1" in text
        # the store's latency: the commit of that packet is counted in the histogram
        commits = [line for line in text.splitlines() if line.startswith("forewarn_store_commit_seconds_count ")]
        assert commits and float(commits[0].split()[1]) >= 1
        assert 'forewarn_store_commit_seconds_bucket{le="+Inf"}' in text
        # every request is in the access log beside the database, without any token
        access = (platform.settings.data_dir / "access.log").read_text(encoding="utf-8")
        assert "GET /metrics 200" in access and "GET /api/v1/health 200" in access
        assert "forewarn_alarms_open " in text and "# TYPE forewarn_rejections_total counter" in text
        assert "forewarn_writer_queue_depth 0" in text and "forewarn_notices_pending 0" in text
        await dev.send(b"##0010QN=garbage&&0000\r\n")  # refused with a reason
        await asyncio.sleep(1.3)  # rejections are counted in memory and stored once a second
        assert 'forewarn_rejections_total{reason="' in (await client.get("/metrics")).text
        await dev.close()

        spec = (await client.get("/api/v1/openapi.json")).json()
        assert spec["openapi"].startswith("3.")
        for path in ("/api/v1/health", "/metrics", "/api/v1/{device_token}/telemetry", "/api/v1/ingest",
                     "/api/v1/points/{point_id}/series"):
            assert path in spec["paths"], path

        body = assert_problem(await client.get("/api/v1/nothing-here"), 404)
        assert "/api/v1/nothing-here" in str(body["detail"])
        assert_problem(await client.delete("/api/v1/health"), 405)

    run(fleet.settings, scenario)


def test_thingsboard_telemetry_is_stored_before_the_answer(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        token = fleet.device_tokens[HECHI_MN]
        payload = {"ts": TS_MS, "values": {"a34002-Rtd": 45.2, "a34002-Flag": "T", "a21026": "12.5", "a01001": "hot"}}
        response = await client.post(f"/api/v1/{token}/telemetry", json=payload)
        assert response.status_code == 200, response.text
        # the answer came after the commit: another connection sees the readings already
        db = sqlite3.connect(fleet.settings.db_path)
        try:
            count = db.execute("SELECT COUNT(*) FROM readings_rtd").fetchone()[0]
        finally:
            db.close()
        assert count == 2
        assert response.json() == {"stored": 2, "refused": ["a01001='hot' is not a number"]}
        assert rows(fleet.settings, HECHI_MN) == [("a21026", "Rtd", TS_MS, 12.5, "N"), ("a34002", "Rtd", TS_MS, 45.2, "T")]

        # the other shapes: a plain object (sampled now) and a list
        now = await client.post(f"/api/v1/{token}/telemetry", json={"a34002": 1.5})
        assert now.json() == {"stored": 1, "refused": []}
        many = await client.post(f"/api/v1/{token}/telemetry",
                                 json=[{"ts": TS_MS + 1000, "values": {"a34002": 2}}, {"ts": TS_MS + 2000, "values": {"a34002": 3}}])
        assert many.json()["stored"] == 2
        assert len(rows(fleet.settings, HECHI_MN)) == 5
        access = (fleet.settings.data_dir / "access.log").read_text(encoding="utf-8")
        assert "POST /api/v1/<token>/telemetry 200" in access and token not in access

    run(fleet.settings, scenario)


def test_thingsboard_and_hj212_give_the_same_rows(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        dev = await FakeDevice.connect(platform.hj212_port)
        await dev.send(data_packet(HECHI_MN, "DataTime=20261122080000;a34002-Rtd=45.2,a34002-Flag=N;a21026-Rtd=12.5"))
        assert (await dev.answer()).cn == "9014"
        await dev.close()
        payload = {"ts": TS_MS, "values": {"a34002-Rtd": 45.2, "a34002-Flag": "N", "a21026-Rtd": 12.5}}
        response = await client.post(f"/api/v1/{fleet.device_tokens[HECHI_MN2]}/telemetry", json=payload)
        assert response.status_code == 200

    run(fleet.settings, scenario)
    hj212, http = rows(fleet.settings, HECHI_MN), rows(fleet.settings, HECHI_MN2)
    assert hj212 and hj212 == http


def test_telemetry_bad_token_and_bad_payload(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        assert_problem(await client.post("/api/v1/not-a-token/telemetry", json={"a34002": 1}), 401)
        token = fleet.device_tokens[HECHI_MN]
        body = assert_problem(await client.post(f"/api/v1/{token}/telemetry", json={"ts": "yesterday", "values": {}}), 400)
        assert "integer ts" in str(body["detail"])
        assert_problem(await client.post(f"/api/v1/{token}/telemetry", json=["a34002"]), 400)
        for empty in ({}, []):  # as ThingsBoard: no mistake, nothing stored (its SDK's connection test)
            answer = await client.post(f"/api/v1/{token}/telemetry", json=empty)
            assert (answer.status_code, answer.json()) == (200, {"stored": 0, "refused": []})
        body = assert_problem(await client.post(f"/api/v1/{token}/telemetry", content=b"{not json"), 400)
        assert "not JSON" in str(body["detail"])

    run(fleet.settings, scenario)
    assert rows(fleet.settings, HECHI_MN) == []


def _batch(mn: str, n: int = 1, start: int = TS_MS) -> dict[str, object]:
    return {"readings": [{"mn": mn, "code": "a34002", "field": "Rtd", "kind": "rtd", "ts": start + i * 60_000,
                          "value": float(i % 17), "flag": "N"} for i in range(n)]}


def test_ingest_needs_a_registry_writer_in_scope(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        ok = await client.post("/api/v1/ingest", json=_batch(HECHI_MN, 3), headers=bearer(fleet.tokens["city"]))
        assert ok.status_code == 200 and ok.json() == {"stored": 3, "refused": []}
        assert len(rows(fleet.settings, HECHI_MN)) == 3  # stored when answered

        iso = await client.post("/api/v1/ingest", headers=bearer(fleet.tokens["hechi"]), json={"readings": [
            {"mn": HECHI_MN2, "code": "a34002", "ts": "2026-11-22T08:00:00+08:00", "value": 7}]})
        assert iso.status_code == 200
        assert rows(fleet.settings, HECHI_MN2) == [("a34002", "Rtd", TS_MS, 7.0, "N")]

        assert_problem(await client.post("/api/v1/ingest", json=_batch(HECHI_MN)), 401)
        assert_problem(await client.post("/api/v1/ingest", json=_batch(HECHI_MN), headers=bearer("wrong")), 401)
        assert_problem(await client.post("/api/v1/ingest", json=_batch(HECHI_MN), headers=bearer(fleet.tokens["gasco"])), 403)
        outside = await client.post("/api/v1/ingest", json={"readings": [*_batch(HECHI_MN, 1, TS_MS + 10**7)["readings"],  # type: ignore[misc]
                                                                         *_batch(DATONG_MN)["readings"]]},  # type: ignore[misc]
                                    headers=bearer(fleet.tokens["hechi"]))
        body = assert_problem(outside, 404)
        assert DATONG_MN in str(body["detail"]) and body["mn"] == DATONG_MN
        unknown = await client.post("/api/v1/ingest", json=_batch("999999NOSUCHDEVICE000001"), headers=bearer(fleet.tokens["city"]))
        assert "999999NOSUCHDEVICE000001" in str(assert_problem(unknown, 404)["detail"])
        assert_problem(await client.post("/api/v1/ingest", json={"rows": []}, headers=bearer(fleet.tokens["city"])), 400)

    run(fleet.settings, scenario)
    assert rows(fleet.settings, DATONG_MN) == []
    assert len(rows(fleet.settings, HECHI_MN)) == 3  # the refused batch stored nothing at all


def test_series_is_scoped_and_bounded(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        stored = await client.post("/api/v1/ingest", json=_batch(HECHI_MN, 500), headers=bearer(fleet.tokens["city"]))
        assert stored.status_code == 200
        assert platform.read_store is not None
        point_id = platform.read_store.db.execute(
            "SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND p.code = 'a34002'",
            (HECHI_MN,)).fetchone()[0]
        url = f"/api/v1/points/{point_id}/series"
        query = {"from": "2026-11-22T08:00:00+08:00", "to": str(TS_MS + 500 * 60_000), "max_points": "50"}

        for outsider in ("datong", "factory"):
            response = await client.get(url, params=query, headers=bearer(fleet.tokens[outsider]))
            body = assert_problem(response, 404)
            assert "points" not in body and "45" not in response.text.replace(str(point_id), "")
        assert_problem(await client.get(url, params=query), 401)

        for insider in ("hechi", "gasco", "city"):
            response = await client.get(url, params=query, headers=bearer(fleet.tokens[insider]))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["kind"] == "rtd" and body["point"]["mn"] == HECHI_MN and body["point"]["code"] == "a34002"
            assert 2 <= len(body["points"]) <= 50
            assert body["points"][0][0] == "2026-11-22T08:00:00+08:00"
            values = [p[1] for p in body["points"]]
            assert min(values) == 0.0 and max(values) == 16.0  # peaks survive the downsampling

        full = await client.get(url, params={**query, "max_points": "10000"}, headers=bearer(fleet.tokens["city"]))
        assert len(full.json()["points"]) == 500
        assert_problem(await client.get(url, params={**query, "max_points": "10001"}, headers=bearer(fleet.tokens["city"])), 400)
        assert_problem(await client.get(url, params={**query, "kind": "weekly"}, headers=bearer(fleet.tokens["city"])), 400)
        assert_problem(await client.get(url, params={**query, "from": "last tuesday"}, headers=bearer(fleet.tokens["city"])), 400)
        assert_problem(await client.get("/api/v1/points/999999/series", headers=bearer(fleet.tokens["city"])), 404)

    run(fleet.settings, scenario)


def test_bad_inputs_are_400s_and_stored_values_are_never_overwritten(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        token = fleet.device_tokens[HECHI_MN]
        first = await client.post(f"/api/v1/{token}/telemetry", json={"ts": TS_MS, "values": {"a34002": 40}})
        assert first.status_code == 200
        again = await client.post(f"/api/v1/{token}/telemetry", json={"ts": TS_MS, "values": {"a34002": 5}})
        assert again.status_code == 200
        assert rows(fleet.settings, HECHI_MN) == [("a34002", "Rtd", TS_MS, 40.0, "N")]  # the first value is kept
        assert_problem(await client.post(f"/api/v1/{token}/telemetry", content=b"[" * 100_000,
                                         headers={"content-type": "application/json"}), 400)
        assert_problem(await client.post(f"/api/v1/{token}/telemetry", content=b"{}",
                                         headers={"content-type": "text/plain"}), 415)
        flood = {f"x{'y' * 40}{i}": 1 for i in range(3)}
        body = (await client.post(f"/api/v1/{token}/telemetry", json=flood)).json()
        assert body["stored"] == 0 and len(body["refused"]) == 3
        headers = bearer(fleet.tokens["city"])
        for query in ("to=-99999999999999", "from=0&to=9999999999999999", "to=%C2%B2"):
            assert_problem(await client.get(f"/api/v1/points/1/series?{query}", headers=headers), 400)
        assert_problem(await client.get("/api/v1/points/99999999999999999999999/series", headers=headers), 404)
        missing = await client.get(f"/api/v1/{token}/nothing")
        assert token not in missing.text

    run(fleet.settings, scenario)
