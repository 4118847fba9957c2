"""Data audit on real parts: what invalid_ranges says after marks on points, devices and sites,
overlapping, re-validated and revoked; the service's refusals (role, scope, state) and its audit
entries with who and why; the API's round trip and scope; the live rule engine not judging a
reading an open-ended mark covers; readings never changed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.stats import audit
from forewarn.stats.audit import AuditError
from forewarn.store import audit_marks
from forewarn.store.audit_marks import invalid_ranges
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import DATONG_MN, HECHI_MN, HECHI_MN2, TS_MS, Fleet, assert_problem, bearer, run
from tests.integration.harness import send_stored
from tests.integration.test_http_alarms import lel

pytestmark = pytest.mark.integration

CITY = Scope(Role.CITY_ADMIN)
HECHI = Scope.for_user("district_admin", "451202", None)
DATONG = Scope.for_user("district_admin", "140213", None)
M = 60_000  # a minute
T0 = TS_MS
NOW = T0 + 1000 * M  # the platform's clock in these tests: after every range marked


@pytest.fixture
def db(fleet: Fleet) -> Iterator[sqlite3.Connection]:
    """The fleet's database with two points on Hechi's first device, one on its second, one in Datong."""
    store = SqliteStore(fleet.settings.db_path, Catalogue())
    conn = store.db
    for mn, code in ((HECHI_MN, "GD1"), (HECHI_MN, "GD2"), (HECHI_MN2, "GD1"), (DATONG_MN, "a34002")):
        conn.execute("INSERT INTO points (device_id, code, field, created_ms) SELECT id, ?, 'LEL', 0 FROM devices "
                     "WHERE mn = ?", (code, mn))
    conn.commit()
    yield conn
    store.close()


def _ids(db: sqlite3.Connection) -> tuple[int, int, int, int, int, int]:
    """point 1, point 2 (device 1), point 3 (device 2, another site), device 1, site 1, the Datong point."""
    def one(sql: str, *args: object) -> int:
        return int(db.execute(sql, args).fetchone()[0])
    p = "SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND p.code = ?"
    return (one(p, HECHI_MN, "GD1"), one(p, HECHI_MN, "GD2"), one(p, HECHI_MN2, "GD1"),
            one("SELECT id FROM devices WHERE mn = ?", HECHI_MN),
            one("SELECT site_id FROM devices WHERE mn = ?", HECHI_MN), one(p, DATONG_MN, "a34002"))


def _mark(db: sqlite3.Connection, target: str, target_id: int, start: int, end: int | None, *, valid: bool = False,
          scope: Scope = CITY, actor: str = "王审核", reason: str = "calibration", note: str = "") -> int:
    with db:
        return audit.mark(db, actor=actor, scope=scope, target=target, target_id=target_id, start_ms=start,
                          end_ms=end, valid=valid, reason=reason, note=note, origin="test", now_ms=NOW)


def test_invalid_ranges_follow_the_newest_mark_in_force_on_point_device_and_site(db: sqlite3.Connection) -> None:
    p1, p2, p3, device, site, _ = _ids(db)
    points = [p1, p2, p3]

    def ranges(start: int = T0, end: int = T0 + 100 * M) -> dict[int, list[tuple[int, int]]]:
        return {p: [(a - T0, b - T0) for a, b in spans] for p, spans in invalid_ranges(db, points, start, end).items()}

    assert ranges() == {}
    _mark(db, "point", p1, T0 + 10 * M, T0 + 20 * M)
    assert ranges() == {p1: [(10 * M, 20 * M)]}
    # the device's mark covers both its points; overlapping ranges merge
    _mark(db, "device", device, T0 + 15 * M, T0 + 30 * M, reason="maintenance")
    assert ranges() == {p1: [(10 * M, 30 * M)], p2: [(15 * M, 30 * M)]}
    # a later "valid again" over part of it re-validates that part, of that point only
    valid_again = _mark(db, "point", p1, T0 + 12 * M, T0 + 18 * M, valid=True, reason="manual", note="复核：数据正常")
    assert ranges() == {p1: [(10 * M, 12 * M), (18 * M, 30 * M)], p2: [(15 * M, 30 * M)]}
    # a site's open-ended mark covers every point of the site, up to the window's end
    site_mark = _mark(db, "site", site, T0 + 40 * M, None, reason="fault")
    assert ranges() == {p1: [(10 * M, 12 * M), (18 * M, 30 * M), (40 * M, 100 * M)],
                        p2: [(15 * M, 30 * M), (40 * M, 100 * M)]}
    # an invalid mark newer than the valid-again one wins over it
    _mark(db, "point", p1, T0 + 11 * M, T0 + 13 * M)
    assert ranges()[p1][:2] == [(10 * M, 13 * M), (18 * M, 30 * M)]
    # revoking gives back what the marks before it said
    with db:
        audit.revoke(db, actor="王审核", scope=CITY, mark_id=valid_again, note="误标", origin="test", now_ms=NOW)
    assert ranges()[p1] == [(10 * M, 30 * M), (40 * M, 100 * M)]
    with db:
        audit.end(db, actor="王审核", scope=CITY, mark_id=site_mark, end_ms=T0 + 50 * M, origin="test", now_ms=NOW)
    assert ranges() == {p1: [(10 * M, 30 * M), (40 * M, 50 * M)], p2: [(15 * M, 30 * M), (40 * M, 50 * M)]}
    # clipped to the window asked; the other site's point and an empty window have none
    assert ranges(T0 + 20 * M, T0 + 45 * M) == {p1: [(20 * M, 30 * M), (40 * M, 45 * M)],
                                                  p2: [(20 * M, 30 * M), (40 * M, 45 * M)]}
    assert invalid_ranges(db, [p3], T0, T0 + 100 * M) == {}
    assert invalid_ranges(db, points, T0 + 5 * M, T0 + 5 * M) == {}
    # the readings themselves were never touched
    assert db.execute("SELECT count(*) FROM readings_rtd").fetchone()[0] == 0


def test_marks_are_refused_by_role_scope_and_state_and_audited_with_who_and_why(db: sqlite3.Connection) -> None:
    p1, _, _, device, _, datong_point = _ids(db)
    gasco = Scope.for_user("enterprise_user", None, 1)
    with pytest.raises(AuditError) as refused:
        _mark(db, "point", p1, T0, T0 + M, scope=gasco, actor="gasco")
    assert refused.value.status == 403 and "may not mark data" in refused.value.detail
    for scope, target, target_id in ((DATONG, "point", p1), (DATONG, "device", device), (HECHI, "point", datong_point),
                                     (HECHI, "point", 999_999)):
        with pytest.raises(AuditError) as outside:
            _mark(db, target, target_id, T0, T0 + M, scope=scope)
        assert outside.value.status == 404, (scope, target)
    for bad in ({"end": T0}, {"reason": "bored"}, {"reason": "manual"}, {"target": "region"}, {"start": 0}):
        kw = {"target": "point", "start": T0, "end": T0 + M, "reason": "fault", **bad}
        with pytest.raises(AuditError) as wrong:
            _mark(db, str(kw["target"]), p1, int(kw["start"]), kw["end"], reason=str(kw["reason"]))  # type: ignore[arg-type]
        assert wrong.value.status == 400, bad

    auditor = Scope.for_user("auditor", "451202", None)
    mark_id = _mark(db, "point", p1, T0, T0 + 10 * M, scope=auditor, actor="审核员", reason="suspected_tampering",
                    note="数值长时间不变")
    with pytest.raises(AuditError) as other_district, db:
        audit.revoke(db, actor="datong", scope=DATONG, mark_id=mark_id, note="x", now_ms=NOW)
    assert other_district.value.status == 404
    with pytest.raises(AuditError) as no_note, db:
        audit.revoke(db, actor="hechi", scope=HECHI, mark_id=mark_id, note=" ", now_ms=NOW)
    assert no_note.value.status == 400
    with db:
        audit.revoke(db, actor="hechi", scope=HECHI, mark_id=mark_id, note="已核实为真实数据", origin="test", now_ms=NOW)
    with pytest.raises(AuditError) as twice, db:
        audit.revoke(db, actor="hechi", scope=HECHI, mark_id=mark_id, note="again", now_ms=NOW)
    assert twice.value.status == 409
    with pytest.raises(AuditError) as closed, db:
        audit.end(db, actor="hechi", scope=HECHI, mark_id=_mark(db, "point", p1, T0, T0 + M), end_ms=T0 + 1,
                  now_ms=NOW)
    assert closed.value.status == 409

    entries = db.execute("SELECT actor, action, before, after FROM audit_log WHERE entity = 'data_mark' AND "
                         "entity_id = ? ORDER BY id", (str(mark_id),)).fetchall()
    assert [(a, act) for a, act, _, _ in entries] == [("审核员", "data_mark.invalid"), ("hechi", "data_mark.revoke")]
    assert entries[0][2] is None and '"reason": "suspected_tampering"' in entries[0][3]
    assert "数值长时间不变" in entries[0][3] and "已核实为真实数据" in entries[1][3]
    # the aggregation recomputes exactly the range touched, on the point marked (made and revoked)
    dirty = db.execute("SELECT level, point_id, start_ms, end_ms FROM aggregate_dirty WHERE point_id = ? AND "
                       "end_ms = ?", (p1, T0 + 10 * M)).fetchall()
    assert dirty == [("minute", p1, T0, T0 + 10 * M)] * 2, dirty


def test_marks_over_http_round_trip_scoped_typed_and_documented(fleet: Fleet) -> None:
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 1.0), lel(HECHI_MN, 1, 2.0))
        db = sqlite3.connect(fleet.settings.db_path)
        point = db.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND "
                           "p.code = 'GD1' AND p.field = 'LEL'", (HECHI_MN,)).fetchone()[0]
        db.close()
        body = {"target": "point", "target_id": point, "start": "2026-11-22T08:00", "end": "2026-11-22T08:30",
                "reason": "calibration", "note": "标气校准"}
        made = await client.post("/api/v1/data-marks", json=body, headers=bearer(t["hechi"]))
        assert made.status_code == 201, made.text
        mark = made.json()
        assert (mark["actor"], mark["valid"], mark["reason_zh"], mark["start_ms"], mark["end_ms"], mark["revoked"]) == (
            "hechi", False, "校准", T0, T0 + 30 * M, False)
        assert mark["start"] == "2026-11-22T08:00:00+08:00"

        shaded = (await client.get(f"/api/v1/points/{point}/invalid", params={"from": T0 - M, "to": T0 + 10 * M},
                                   headers=bearer(t["gasco"]))).json()
        assert [(r["start_ms"], r["end_ms"]) for r in shaded["ranges"]] == [(T0, T0 + 10 * M)]
        listed = (await client.get("/api/v1/data-marks", params={"point": point}, headers=bearer(t["gasco"]))).json()
        assert [m["id"] for m in listed["items"]] == [mark["id"]] and listed["total"] == 1

        # outside the scope: as if it did not exist; an enterprise may not mark its own data
        other = (await client.get("/api/v1/data-marks", headers=bearer(t["datong"]))).json()
        assert other["total"] == 0
        assert_problem(await client.get(f"/api/v1/data-marks/{mark['id']}", headers=bearer(t["datong"])), 404)
        assert_problem(await client.get(f"/api/v1/points/{point}/invalid", params={"from": T0, "to": T0 + M},
                                        headers=bearer(t["datong"])), 404)
        assert_problem(await client.post(f"/api/v1/data-marks/{mark['id']}/revoke", json={"note": "x"},
                                         headers=bearer(t["datong"])), 404)
        assert_problem(await client.post("/api/v1/data-marks", json=body, headers=bearer(t["datong"])), 404)
        assert "may not" in str(assert_problem(
            await client.post("/api/v1/data-marks", json=body, headers=bearer(t["gasco"])), 403)["detail"])
        for bad in ({**body, "by": "王科长"}, {**body, "reason": "bored"}, {**body, "end": "2026-11-22T07:00"},
                    {**body, "start": "yesterday"}, {k: v for k, v in body.items() if k != "reason"}):
            assert_problem(await client.post("/api/v1/data-marks", json=bad, headers=bearer(t["hechi"])), 400)

        revoked = await client.post(f"/api/v1/data-marks/{mark['id']}/revoke", json={"note": "校准记录有误"},
                                    headers=bearer(t["hechi"]))
        assert revoked.status_code == 200, revoked.text
        assert (revoked.json()["revoked"], revoked.json()["revoked_by"]) == (True, "hechi")
        assert_problem(await client.post(f"/api/v1/data-marks/{mark['id']}/revoke", json={"note": "again"},
                                         headers=bearer(t["hechi"])), 409)
        active = (await client.get("/api/v1/data-marks", params={"active": "true"}, headers=bearer(t["city"]))).json()
        assert active["total"] == 0
        shaded = (await client.get(f"/api/v1/points/{point}/invalid", params={"from": T0, "to": T0 + 10 * M},
                                   headers=bearer(t["hechi"]))).json()
        assert shaded["ranges"] == []

        document = (await client.get("/api/v1/openapi.json")).json()
        operation = document["paths"]["/api/v1/data-marks"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert {"target", "target_id", "start", "reason"} <= set(schema["required"])

    run(fleet.settings, scenario)
    # the readings stored are the readings sent
    db = sqlite3.connect(fleet.settings.db_path)
    try:
        assert db.execute("SELECT value FROM readings_rtd ORDER BY ts").fetchall() == [(1.0,), (2.0,)]
    finally:
        db.close()


def test_a_reading_an_open_ended_invalid_mark_covers_raises_no_alarm(fleet: Fleet) -> None:
    t = fleet.tokens

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, lel(HECHI_MN, 0, 1.0))
        db = sqlite3.connect(fleet.settings.db_path)
        point = db.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND "
                           "p.code = 'GD1'", (HECHI_MN,)).fetchone()[0]
        made = await client.post("/api/v1/data-marks", headers=bearer(t["hechi"]), json={
            "target": "device", "target_id": db.execute("SELECT id FROM devices WHERE mn = ?", (HECHI_MN,)).fetchone()[0],
            "start": T0 + M, "reason": "calibration", "note": "标定中"})
        assert made.status_code == 201, made.text
        assert made.json()["end"] is None
        assert platform.alarms is not None and platform.alarms.marked is not None
        await platform.alarms.marked.refresh()  # as the watcher does within seconds
        await send_stored(platform, lel(HECHI_MN, 2, 60.0))  # test gas over the limit: marked, not judged
        await asyncio.sleep(0.2)
        assert db.execute("SELECT count(*) FROM alarms WHERE rule_id LIKE 'gas.%'").fetchone()[0] == 0
        ended = await client.post(f"/api/v1/data-marks/{made.json()['id']}/end", json={"end": T0 + 5 * M},
                                  headers=bearer(t["hechi"]))
        assert ended.status_code == 200 and ended.json()["end_ms"] == T0 + 5 * M, ended.text
        await platform.alarms.marked.refresh()
        await send_stored(platform, lel(HECHI_MN, 6, 60.0))  # after the mark: judged again
        for _ in range(50):
            if db.execute("SELECT count(*) FROM alarms WHERE rule_id LIKE 'gas.%'").fetchone()[0]:
                break
            await asyncio.sleep(0.1)
        assert db.execute("SELECT count(*) FROM alarms WHERE rule_id LIKE 'gas.%'").fetchone()[0] >= 1
        assert db.execute("SELECT value FROM counters WHERE name = 'readings_not_judged_marked_invalid'"
                          ).fetchone() == (1,)
        assert db.execute("SELECT value FROM readings_rtd WHERE point_id = ? ORDER BY ts", (point,)
                          ).fetchall() == [(1.0,), (60.0,), (60.0,)]
        db.close()

    run(fleet.settings, scenario)


_MARK = st.tuples(st.sampled_from(["point", "device", "site"]), st.integers(0, 30), st.integers(1, 15),
                  st.booleans(), st.booleans(), st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(marks=st.lists(_MARK, max_size=8), window=st.tuples(st.integers(0, 40), st.integers(1, 40)))
def test_invalid_ranges_agree_with_painting_every_minute_in_order(db: sqlite3.Connection,
                                                                 marks: list[tuple[str, int, int, bool, bool, bool]],
                                                                 window: tuple[int, int]) -> None:
    """Any marks (some open-ended, some revoked), any window: each minute is invalid exactly when
    the newest mark in force covering it says invalid; ranges come merged and sorted."""
    p1, _, p3, device, site, _ = _ids(db)
    with db:
        db.execute("DELETE FROM data_marks")
    ids = {"point": p1, "device": device, "site": site}
    painted: dict[int, bool] = {}
    for target, start, length, valid, open_ended, revoked in marks:
        end = None if open_ended else start + length
        mark_id = _mark(db, target, ids[target], T0 + start * M, None if end is None else T0 + end * M,
                        valid=valid, reason="fault")
        if revoked:
            with db:
                audit.revoke(db, actor="x", scope=CITY, mark_id=mark_id, note="x", origin="test", now_ms=NOW)
            continue
        for minute in range(start, 100 if end is None else end):  # open-ended: past every window
            painted[minute] = not valid
    lo, span = window
    got = invalid_ranges(db, [p1, p3], T0 + lo * M, T0 + (lo + span) * M)
    assert p3 not in got
    # found from the marks (many points asked) or from the points (few): the same answer
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit_marks, "_FROM_POINTS_MAX", 0)
        assert invalid_ranges(db, [p1, p3], T0 + lo * M, T0 + (lo + span) * M) == got
    spans = got.get(p1, [])
    assert spans == sorted(spans) and all(a < b for a, b in spans)
    assert all(b1 < a2 for (_, b1), (a2, _) in zip(spans, spans[1:], strict=False)), spans  # merged
    for minute in range(lo, lo + span):
        t = T0 + minute * M
        assert any(a <= t < b for a, b in spans) == painted.get(minute, False), (minute, spans)
