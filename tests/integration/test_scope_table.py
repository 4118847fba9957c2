"""Every endpoint × every role: a user outside the scope gets 401, 403 or 404, never data.

One table, :data:`RULES`, says for each route of the app what scope rule it follows and how to
ask it for something of Hechi (district 451202, enterprise 河池市液化石油气公司). The first test
fails when the app has a route the table does not name, so a new endpoint cannot ship without
a scope rule; the second asks every route as every outsider and checks that no Hechi data
comes back, and that an insider does get it (so a wrong path cannot pass by answering 404 to all).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from forewarn.access.users import create_user, issue_api_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.store.sqlite import SqliteStore
from forewarn.web.app import create_app
from tests.integration.api import HECHI_MN, PASSWORD, TS_MS, Fleet, bearer, run
from tests.integration.harness import FakeDevice, data_packet

pytestmark = pytest.mark.integration

UNKNOWN_MN = "999999UNKNOWN00000000001"
#: what must never appear in an answer to someone outside Hechi
HECHI_MARKS = (HECHI_MN, "储配站", "河池市液化石油气公司", "金城江区", UNKNOWN_MN)


@dataclass(frozen=True)
class Rule:
    """How a route is scoped, and a request for Hechi's things (``{site}``, ``{device}`` ... filled in).

    kind:
    - ``public``: no user needed (health, metrics, the API's own documents, login);
    - ``device``: a device token in the path, no user (telemetry);
    - ``object``: one Hechi thing; outsiders get 401/403/404, a city administrator gets 2xx (GET);
    - ``list``: outsiders get 200 with none of Hechi's things in it (or 403 where their role may not list);
    - ``city``: the city administrator only (quarantine: an unknown MN belongs to no region);
    - ``self``: acts on the caller's own session only; nobody gets anyone's data;
    - ``stream``: the live stream; scope per event is tested in test_live_stream.py, here anonymous is refused.
    """

    kind: str
    path: str = ""
    body: Any = None
    why: str = ""
    #: roles besides the outsiders that must be refused (e.g. read-only roles on a write)
    refused: tuple[str, ...] = field(default=())
    #: what the city administrator gets for this request (a GET that names something absent)
    kind_inside: int = 200


READERS_WITHOUT_WRITE = ("gasco", "auditor_hechi")
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/health"): Rule("public", why="for load balancers: counts only"),
    ("GET", "/metrics"): Rule("public", why="Prometheus on the intranet: counts only"),
    ("GET", "/api/v1/openapi.json"): Rule("public", why="the API's description"),
    ("GET", "/api/v1/docs"): Rule("public", why="the docs page"),
    ("GET", "/api/v1/docs/{name}"): Rule("public", why="the docs page's scripts"),
    # the dashboard's shell and files hold no data: each page reads through the scoped API
    **{("GET", path): Rule("public", why="the dashboard's HTML shell") for path in
       ("/", "/login", "/screen", "/alarms", "/silences", "/playback", "/registry", "/statistics", "/screening", "/linkage")},
    ("GET", "/sites/{item}"): Rule("public", path="/sites/1", why="the dashboard's shell for a site"),
    ("GET", "/alarms/{item}"): Rule("public", path="/alarms/1", why="the dashboard's shell for an alarm"),
    ("GET", "/static/{path}"): Rule("public", path="/static/app.js", why="the dashboard's scripts and libraries"),
    ("GET", "/api/v1/_schema"): Rule("public", why="Litestar's schema router"),
    ("GET", "/api/v1/_schema/openapi.json"): Rule("public", why="Litestar's schema router"),
    ("GET", "/api/v1/_schema/{path}"): Rule("public", why="Litestar's schema router"),
    ("POST", "/api/v1/auth/login"): Rule("public", why="logging in"),
    ("POST", "/api/v1/{device_token}/telemetry"): Rule("device", why="the device token is the credential"),
    ("POST", "/api/v1/auth/logout"): Rule("self", "/api/v1/auth/logout", why="ends only the caller's own session"),
    ("GET", "/api/v1/auth/session"): Rule("list", "/api/v1/auth/session"),
    ("POST", "/api/v1/auth/password"): Rule("self", "/api/v1/auth/password", {"current": "wrong", "new": "x" * 12},
                                            why="changes only the caller's own password"),
    ("POST", "/api/v1/ingest"): Rule("object", "/api/v1/ingest", {"readings": [
        {"mn": HECHI_MN, "code": "a34002", "field": "Rtd", "kind": "rtd", "ts": TS_MS, "value": 1.0}]},
        refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/alarms"): Rule("list", "/api/v1/alarms"),
    ("GET", "/api/v1/alarms/{alarm_id}"): Rule("object", "/api/v1/alarms/{alarm}"),
    ("GET", "/api/v1/alarms/{alarm_id}/attachments/{sha256}"): Rule(
        "object", "/api/v1/alarms/{alarm}/attachments/0000", why="the alarm's scope; the city gets 404 for no such file",
        kind_inside=404),
    ("POST", "/api/v1/alarms/{alarm_id}/ack"): Rule("object", "/api/v1/alarms/{alarm}/ack", {},
                                                    refused=READERS_WITHOUT_WRITE),
    ("POST", "/api/v1/alarms/{alarm_id}/dispatch"): Rule("object", "/api/v1/alarms/{alarm}/dispatch", {"to": "x"},
                                                         refused=READERS_WITHOUT_WRITE),
    ("POST", "/api/v1/alarms/{alarm_id}/record"): Rule("object", "/api/v1/alarms/{alarm}/record", {"findings": "x"},
                                                       refused=("auditor_hechi",)),
    ("POST", "/api/v1/alarms/{alarm_id}/resolve"): Rule("object", "/api/v1/alarms/{alarm}/resolve", {},
                                                        refused=READERS_WITHOUT_WRITE),
    ("POST", "/api/v1/alarms/{alarm_id}/close"): Rule("object", "/api/v1/alarms/{alarm}/close", {},
                                                      refused=READERS_WITHOUT_WRITE),
    ("POST", "/api/v1/alarms/{alarm_id}/comment"): Rule("object", "/api/v1/alarms/{alarm}/comment", {"text": "x"},
                                                        refused=("auditor_hechi",)),
    ("POST", "/api/v1/alarms/bulk"): Rule("list", "/api/v1/alarms/bulk", {"ids": ["{alarm}"], "step": "ack"},
                                          why="each id answered as alone: an outsider's alarm is a 404 in the list",
                                          refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/silences"): Rule("list", "/api/v1/silences"),
    ("GET", "/api/v1/stats/mismatches"): Rule("list", "/api/v1/stats/mismatches?from=2026-11-01&to=2026-12-01"),
    ("POST", "/api/v1/silences"): Rule("object", "/api/v1/silences", {"mn": HECHI_MN, "until": "2099-01-01T00:00"},
                                       refused=READERS_WITHOUT_WRITE),
    ("DELETE", "/api/v1/silences/{silence_id}"): Rule("object", "/api/v1/silences/{silence}",
                                                      refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/quarantine"): Rule("city", "/api/v1/quarantine"),
    ("GET", "/api/v1/forwarding"): Rule("city", "/api/v1/forwarding"),
    ("GET", "/api/v1/users"): Rule("city", "/api/v1/users", why="users span every region"),
    ("POST", "/api/v1/users"): Rule("city", "/api/v1/users", {"name": "x", "role": "auditor", "password": "y" * 12}),
    ("POST", "/api/v1/users/{name}/disable"): Rule("city", "/api/v1/users/hechi/disable"),
    ("POST", "/api/v1/users/{name}/enable"): Rule("city", "/api/v1/users/hechi/enable"),
    ("POST", "/api/v1/users/{name}/password"): Rule("city", "/api/v1/users/hechi/password", {"password": "z" * 12}),
    ("POST", "/api/v1/users/{name}/tokens"): Rule("city", "/api/v1/users/hechi/tokens", {}),
    ("GET", "/api/v1/users/{name}/tokens"): Rule("city", "/api/v1/users/hechi/tokens"),
    ("DELETE", "/api/v1/tokens/{token_id}"): Rule("city", "/api/v1/tokens/1"),
    ("GET", "/api/v1/quarantine/{mn}"): Rule("city", f"/api/v1/quarantine/{UNKNOWN_MN}"),
    ("DELETE", "/api/v1/quarantine/{mn}"): Rule("city", f"/api/v1/quarantine/{UNKNOWN_MN}"),
    ("POST", "/api/v1/quarantine/{mn}/claim"): Rule("city", f"/api/v1/quarantine/{UNKNOWN_MN}/claim",
                                                    {"site_id": 0}),
    ("GET", "/api/v1/points/{point_id}/series"): Rule("object", "/api/v1/points/{point}/series"),
    ("GET", "/api/v1/sites/{site_id}/latest"): Rule("object", "/api/v1/sites/{site}/latest"),
    ("GET", "/api/v1/sites/{site_id}/detail"): Rule("object", "/api/v1/sites/{site}/detail"),
    ("GET", "/api/v1/sites/{site_id}/lifecycle"): Rule("object", "/api/v1/sites/{site}/lifecycle"),
    ("POST", "/api/v1/sites/{site_id}/lifecycle"): Rule("object", "/api/v1/sites/{site}/lifecycle",
                                                        {"status": "maintenance", "reason": "x"},
                                                        refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/playback"): Rule("object", "/api/v1/playback?alarm={alarm}",
                                      why="the alarm's site; by site=ID in test_site_page.py"),
    ("GET", "/api/v1/dashboard/overview"): Rule("list", "/api/v1/dashboard/overview",
                                                why="each user's own sites, alarms and regions: test_overview.py"),
    ("GET", "/api/v1/regions/outlines"): Rule("list", "/api/v1/regions/outlines",
                                              why="the user's own regions' outlines: test_overview.py"),
    ("GET", "/api/v1/stats/figures"): Rule("list", "/api/v1/stats/figures?when=2026-11&by=enterprise",
                                           why="the figures of one's own sites: test_http_stats.py"),
    ("GET", "/api/v1/stats/rankings"): Rule("list", "/api/v1/stats/rankings?when=2026-11",
                                            why="one's own regions and enterprises: test_http_stats.py"),
    ("GET", "/api/v1/regions/{code}/latest"): Rule("object", "/api/v1/regions/451202/latest"),
    ("POST", "/api/v1/registry/import"): Rule(
        "object", "/api/v1/registry/import",
        "region_code,region_name,enterprise,site,site_type,longitude,latitude,mn,password\n"
        f"451202,金城江区,河池市液化石油气公司,储配站,lpg_station,108.0,24.6,{HECHI_MN},\n",
        refused=READERS_WITHOUT_WRITE),
    ("POST", "/api/v1/devices/{device_id}/tokens"): Rule("object", "/api/v1/devices/{device}/tokens",
                                                         refused=READERS_WITHOUT_WRITE),
    ("DELETE", "/api/v1/devices/{device_id}/tokens"): Rule("object", "/api/v1/devices/{device}/tokens",
                                                           refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/live/sse"): Rule("stream", "/api/v1/live/sse"),
    ("GET", "/api/v1/registry/export"): Rule("list", "/api/v1/registry/export", why="the sheets of one's own scope",
                                             refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/audit"): Rule("object", "/api/v1/audit", why="spans every region: city and unscoped auditors",
                                   refused=("hechi", "gasco", "auditor_hechi")),
    ("WS", "/api/v1/live"): Rule("stream", why="WebSocket: see test_live_stream.py"),
    # cameras: scoped by their site; credentials masked for readers in test_cameras.py
    ("GET", "/api/v1/cameras"): Rule("list", "/api/v1/cameras"),
    ("POST", "/api/v1/cameras"): Rule("object", "/api/v1/cameras", {"site_id": "{site}", "name": "new",
                                                                    "snapshot_url": "http://127.0.0.1:9/s.jpg"},
                                      refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/cameras/{camera_id}"): Rule("object", "/api/v1/cameras/{camera}"),
    ("PATCH", "/api/v1/cameras/{camera_id}"): Rule("object", "/api/v1/cameras/{camera}", {"name": "x"},
                                                   refused=READERS_WITHOUT_WRITE),
    ("DELETE", "/api/v1/cameras/{camera_id}"): Rule("object", "/api/v1/cameras/{camera}",
                                                    refused=READERS_WITHOUT_WRITE),
    ("GET", "/api/v1/cameras/{camera_id}/snapshot"): Rule(
        "object", "/api/v1/cameras/{camera}/snapshot", why="the camera's site; its closed port answers the city 502",
        kind_inside=502),
    ("GET", "/api/v1/alarms/{alarm_id}/snapshots"): Rule("object", "/api/v1/alarms/{alarm}/snapshots",
                                                         why="the alarm's scope"),
    ("GET", "/api/v1/alarms/{alarm_id}/snapshots/{snapshot_id}"): Rule(
        "object", "/api/v1/alarms/{alarm}/snapshots/1", why="the alarm's scope; the city gets 404 for no snapshot",
        kind_inside=404),
    ("GET", "/api/v1/reports/{kind}"): Rule("object", "/api/v1/reports/monthly?region=451202&period=2026-11",
                                            why="the region's report; enterprises' in test_reports_api.py"),
    ("GET", "/api/v1/reports/files"): Rule("list", "/api/v1/reports/files",
                                           why="the reports of one's own regions: test_reports_api.py"),
    ("GET", "/api/v1/reports/files/{name}"): Rule(
        "object", "/api/v1/reports/files/monthly-region-451202-2026-11.xlsx", kind_inside=404,
        why="none on file here; who gets a file: test_reports_api.py"),
    ("GET", "/api/v1/data-marks"): Rule("list", "/api/v1/data-marks"),
    ("GET", "/api/v1/data-marks/{mark_id}"): Rule("object", "/api/v1/data-marks/{mark}"),
    ("POST", "/api/v1/data-marks"): Rule("object", "/api/v1/data-marks", {
        "target": "point", "target_id": "{point}", "start": TS_MS, "end": TS_MS + 60_000, "reason": "fault"},
        refused=("gasco",), why="auditors and administrators audit data; never the enterprise"),
    ("POST", "/api/v1/data-marks/{mark_id}/revoke"): Rule("object", "/api/v1/data-marks/{mark}/revoke", {"note": "x"},
                                                          refused=("gasco",)),
    ("POST", "/api/v1/data-marks/{mark_id}/end"): Rule("object", "/api/v1/data-marks/{mark}/end", {},
                                                       refused=("gasco",)),
    # the screening's findings: for auditors and administrators, never the enterprise (test_http_screening.py)
    ("GET", "/api/v1/screening/kinds"): Rule("list", "/api/v1/screening/kinds", why="the kinds there are: no data"),
    ("GET", "/api/v1/screening/findings"): Rule("list", "/api/v1/screening/findings", refused=("gasco",)),
    ("GET", "/api/v1/screening/findings/{finding_id}"): Rule("object", "/api/v1/screening/findings/{finding}",
                                                             refused=("gasco",)),
    ("POST", "/api/v1/screening/runs"): Rule("list", "/api/v1/screening/runs", {}, refused=("gasco",),
                                             why="screens the caller's own sites only: test_screening.py"),
    ("POST", "/api/v1/screening/findings/{finding_id}/confirm"): Rule(
        "object", "/api/v1/screening/findings/{finding}/confirm", {}, refused=("gasco",)),
    ("POST", "/api/v1/screening/findings/{finding_id}/dismiss"): Rule(
        "object", "/api/v1/screening/findings/{finding}/dismiss", {"note": "x"}, refused=("gasco",)),
    ("GET", "/api/v1/points/{point_id}/invalid"): Rule("object", f"/api/v1/points/{{point}}/invalid?from={TS_MS}&to="
                                                                 f"{TS_MS + 60_000}"),
}
_KEYS = {"regions": "451202", "enterprises": "{enterprise}", "sites": "{site}", "devices": "{device}",
         "points": "{point}"}
_CHANGES = {"regions": {"name": "x"}, "enterprises": {"name": "x"}, "sites": {"name": "x"},
            "devices": {"interval_s": 60}, "points": {"name": "x"}}
_NEW = {"regions": {"code": "451202001", "name": "x", "parent_code": "451202"},
        "enterprises": {"name": "x", "region_code": "451202"},
        "sites": {"enterprise_id": "{enterprise}", "name": "x", "site_type": "lpg_station", "region_code": "451202"},
        "devices": {"site_id": "{site}", "mn": "451202NEWNEWNEW000000001"},
        "points": {"device_id": "{device}", "code": "a01001", "field": "Rtd"}}
for plural, key in _KEYS.items():
    RULES[("GET", f"/api/v1/{plural}")] = Rule("list", f"/api/v1/{plural}")
    RULES[("POST", f"/api/v1/{plural}")] = Rule("object", f"/api/v1/{plural}", _NEW[plural],
                                                refused=READERS_WITHOUT_WRITE)
    RULES[("GET", f"/api/v1/{plural}/{{key}}")] = Rule("object", f"/api/v1/{plural}/{key}")
    RULES[("PATCH", f"/api/v1/{plural}/{{key}}")] = Rule("object", f"/api/v1/{plural}/{key}", _CHANGES[plural],
                                                         refused=READERS_WITHOUT_WRITE)
    RULES[("DELETE", f"/api/v1/{plural}/{{key}}")] = Rule("object", f"/api/v1/{plural}/{key}",
                                                          refused=READERS_WITHOUT_WRITE)

#: users outside Hechi: another district's administrator, another enterprise's user, another
#: district's auditor
OUTSIDERS = ("datong", "factory", "auditor_datong")


def app_routes() -> set[tuple[str, str]]:
    app = create_app(None)  # type: ignore[arg-type]  # the routes only: nothing is served
    found = set()
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {key:int} -> {key}
        if isinstance(route, HTTPRoute):
            found |= {(m, path) for m in route.methods - {"OPTIONS", "HEAD"}}
        else:
            found.add(("WS", path))
    return found


def test_every_endpoint_has_a_scope_rule() -> None:
    routes = app_routes()
    missing = sorted(routes - RULES.keys())
    assert not missing, f"endpoints without a scope rule in RULES (add one): {missing}"
    stale = sorted(RULES.keys() - routes)
    assert not stale, f"scope rules for endpoints that no longer exist: {stale}"


def _prepare(fleet: Fleet) -> dict[str, str]:
    """Auditors for each district, and a Hechi alarm (as the recorder writes it)."""
    store = SqliteStore(fleet.settings.db_path, Catalogue())
    db = store.db
    try:
        kw = {"actor": "test", "origin": "test"}
        for name, region in (("auditor_hechi", "451202"), ("auditor_datong", "140213")):
            create_user(db, name, PASSWORD, "auditor", region_code=region, **kw)
            fleet.tokens[name] = issue_api_token(db, name, **kw).token
        site, device = db.execute("SELECT site_id, id FROM devices WHERE mn = ?", (HECHI_MN,)).fetchone()
        now = int(time.time() * 1000)
        db.execute(
            "INSERT INTO alarms (rule_id, rule_version, subject, level, state, condition, live, mn, site_id, site, "
            "enterprise, region_code, region_name, title_zh, title_en, explanation_zh, explanation_en, first_ts, "
            "last_ts, created_ms, updated_ms) VALUES ('gas.lel', 1, ?, 2, 'firing', 'active', 1, ?, ?, '储配站', "
            "'河池市液化石油气公司', '451202', '金城江区', '可燃气体报警', 'Gas', '储配站 31 %LEL', 'gas', ?, ?, ?, ?)",
            (f"{HECHI_MN}/GD1-LEL", HECHI_MN, site, TS_MS, TS_MS, now, now))
        db.commit()
        alarm = db.execute("SELECT MAX(id) FROM alarms").fetchone()[0]
        db.execute("INSERT INTO silences (mn, site_id, rule_id, from_ms, until_ms, reason, actor, created_ms) "
                   "VALUES (?, NULL, '', ?, ?, '检修', 'test', ?)", (HECHI_MN, now, now + 86_400_000, now))
        db.commit()
        silence = db.execute("SELECT MAX(id) FROM silences").fetchone()[0]
        enterprise = db.execute("SELECT enterprise_id FROM sites WHERE id = ?", (site,)).fetchone()[0]
        db.execute("INSERT INTO cameras (site_id, name, snapshot_url, created_ms, updated_ms) "
                   "VALUES (?, '储配站东门', 'http://127.0.0.1:9/s.jpg', ?, ?)", (site, now, now))
        db.commit()
        camera = db.execute("SELECT MAX(id) FROM cameras").fetchone()[0]
        db.execute("INSERT INTO alarm_snapshots (alarm_id, camera_id, camera_name, taken_ms, took_ms, error) "
                   "VALUES (?, ?, '储配站东门', ?, 5000, 'did not answer in 5 s')", (alarm, camera, now))
        db.commit()
        db.execute("INSERT INTO data_marks (target, target_id, site_id, start_ms, end_ms, valid, reason, actor, origin, "
                   "created_ms) VALUES ('device', ?, ?, ?, NULL, 0, 'maintenance', 'test', 'test', ?)",
                   (device, site, TS_MS, now))
        db.commit()
        mark = db.execute("SELECT MAX(id) FROM data_marks").fetchone()[0]
        db.execute("INSERT INTO screening_findings (kind, site_id, device_id, target, start_ms, end_ms, summary, "
                   "summary_zh, evidence, found_ms, run_id) VALUES ('repeats', ?, ?, ?, ?, ?, '储配站 repeats', "
                   "'储配站 重复', '{}', ?, 0)", (site, device, f"device:{device}", TS_MS, TS_MS + 3_600_000, now))
        db.commit()
        finding = db.execute("SELECT MAX(id) FROM screening_findings").fetchone()[0]
    finally:
        store.close()
    return {"site": str(site), "device": str(device), "alarm": str(alarm), "enterprise": str(enterprise),
            "silence": str(silence), "mark": str(mark), "camera": str(camera),
            "finding": str(finding)}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        text = value.format(**ids) if "{" in value else value
        return int(text) if value.startswith("{") and text.isdigit() else text
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def _ask(client: httpx.AsyncClient, method: str, rule: Rule, ids: dict[str, str],
               headers: dict[str, str]) -> httpx.Response:
    path = rule.path.format(**ids)
    body = _fill(rule.body, ids)
    if isinstance(body, str):
        return await client.request(method, path, content=body.encode(), headers={**headers, "Content-Type": "text/csv"})
    if body is None and method in ("POST", "PATCH"):
        body = {}
    return await client.request(method, path, json=body, headers=headers)


def _leaks(response: httpx.Response) -> list[str]:
    """Hechi's things in the answer that the request did not itself name (an echo is no leak)."""
    asked = str(response.request.url) + response.request.content.decode("utf-8", "replace")
    return [mark for mark in HECHI_MARKS if mark in response.text and mark not in asked]


def test_no_role_outside_the_scope_gets_data_from_any_endpoint(fleet: Fleet) -> None:
    ids = _prepare(fleet)

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        dev = await FakeDevice.connect(platform.hj212_port)
        for mn in (HECHI_MN, UNKNOWN_MN):
            await dev.send(data_packet(mn))
            assert (await dev.answer()).cn == "9014"
        await dev.close()
        await asyncio.sleep(0.1)
        db = sqlite3.connect(fleet.settings.db_path)
        ids["point"] = str(db.execute(
            "SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ?", (HECHI_MN,)
        ).fetchone()[0])
        db.close()

        failures: list[str] = []
        for (method, route), rule in sorted(RULES.items()):
            if rule.kind in ("public", "device") or method == "WS":
                continue
            where = f"{method} {route}"
            anonymous = await _ask(client, method, rule, ids, {})
            if anonymous.status_code != 401 or _leaks(anonymous):
                failures.append(f"{where} anonymous: {anonymous.status_code}")
            if rule.kind == "stream":
                continue
            device = await _ask(client, method, rule, ids, bearer(fleet.device_tokens[HECHI_MN]))
            if device.status_code != 401 or _leaks(device):
                failures.append(f"{where} a device token as a user's: {device.status_code}")
            outsiders = OUTSIDERS + rule.refused + (("hechi", "gasco", "auditor_hechi") if rule.kind == "city" else ())
            for who in outsiders:
                answer = await _ask(client, method, rule, ids, bearer(fleet.tokens[who]))
                if rule.kind == "self":
                    ok = answer.status_code < 500
                elif rule.kind == "list" and who in OUTSIDERS:
                    ok = answer.status_code in (200, 403)  # their own part, or not for their role at all
                else:
                    ok = answer.status_code in (403, 404)
                if not ok or _leaks(answer):
                    failures.append(f"{where} as {who}: {answer.status_code} {_leaks(answer)} {answer.text[:120]}")
            if method == "GET":  # the path is real: someone inside gets the data
                inside = await _ask(client, method, rule, ids, bearer(fleet.tokens["city"]))
                if inside.status_code != rule.kind_inside or (
                        rule.kind_inside == 200 and rule.kind != "city" and route != "/api/v1/auth/session"
                        and not _leaks(inside) and "{" in rule.path):
                    failures.append(f"{where} as city: {inside.status_code} (expected Hechi's data)")
        assert not failures, "\n".join(failures)

        # nobody outside wrote anything
        db = sqlite3.connect(fleet.settings.db_path)
        actors = {row[0] for row in db.execute("SELECT DISTINCT actor FROM audit_log")}
        db.close()
        assert not actors & set(OUTSIDERS + READERS_WITHOUT_WRITE), actors

    run(fleet.settings, scenario)
