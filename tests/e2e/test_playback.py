"""Incident playback and the site page in a real browser, against the demo fed by the simulator.

From a gas leak's alarm: open its playback, step to the alarm, and the values shown are those
the API holds for that instant (the newest reading at or before it, point by point, read
independently through the series API); the leak's point is shown over its limit, the URL holds
the instant; playing moves the instant; screenshots in both languages. The site page shows the
station's devices, its live values against their limits and a way into playback.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from playwright.sync_api import expect

from forewarn.access.users import issue_api_token
from forewarn.cli.common import open_store
from tests.e2e.conftest import CITY_USER, GAS_MN, TZ, Server, shot


def _client(server: Server) -> httpx.Client:
    """The API as the city administrator, with a token of its own (a session cookie is Secure,
    which an HTTP client keeps off plain http)."""
    with open_store(server.settings) as store:
        token = issue_api_token(store.db, CITY_USER, "e2e playback", actor="e2e", origin="test", days=1).token
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _leak(server: Server, value: float) -> int:
    """A combustible-gas reading over the second-stage limit now, as the station's detector
    sends it (GD1-LEL: the point the registry names); its time (ms)."""
    now = datetime.now(TZ).replace(microsecond=0)
    server.send(GAS_MN, f"DataTime={now:%Y%m%d%H%M%S};GD1-LEL={value},GD1-Flag=N")
    return int(now.timestamp() * 1000)


def _alarm_of_leak(server: Server) -> dict[str, Any]:
    leaked = _leak(server, 66.0)
    client = _client(server)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = client.get("/api/v1/alarms", params={"rule": "gas.lel", "open": "true"})
            assert answer.status_code == 200, answer.text
            items = answer.json()["items"]
            found = [a for a in items if a["mn"] == GAS_MN]
            if found:
                return dict(found[0], leaked_ms=leaked)
            time.sleep(0.1)
    finally:
        client.close()
    raise AssertionError("the gas leak raised no alarm within 10 s")


def _ms(item: dict[str, Any], *names: str) -> int:
    for name in names:
        if isinstance(item.get(name), int):
            return int(item[name])
    raise KeyError(names)


def _reading_at(client: Any, point_id: int, kind: str, t: int) -> tuple[int, float | None] | None:
    """The newest reading of a point at or before t, as the series API stores it."""
    rows = client.get(f"/api/v1/points/{point_id}/series",
                      params={"from": t - 3 * 3600_000, "to": t, "kind": kind, "max_points": 10000}).json()["points"]
    if not rows:
        return None
    ts, value, _flag = rows[-1]
    return int(datetime.fromisoformat(ts).timestamp() * 1000), value


def test_playback_from_an_alarm_shows_the_values_at_the_alarms_instant(server: Server, open_page: Any) -> None:
    alarm = _alarm_of_leak(server)
    alarm_id = alarm["id"]
    client = _client(server)
    play = client.get("/api/v1/playback", params={"alarm": alarm_id}).json()
    first = next(a["first_ts_ms"] for a in play["alarms"] if a["id"] == alarm_id)
    start = first - 60_000  # a minute before it, then "next alarm"
    for lang in ("zh", "en"):
        page = open_page(lang=lang, path=f"/playback?alarm={alarm_id}&t={start}")
        page.wait_for_selector("#page[data-ready='1']")
        assert int(page.get_attribute("#page", "data-t")) == start
        page.click("[data-test=next-alarm]")
        expect(page.locator("#page")).not_to_have_attribute("data-t", str(start))
        t = int(page.get_attribute("#page", "data-t"))
        moments = sorted({a["first_ts_ms"] for a in play["alarms"]} | {
            e["ts_ms"] for e in play["events"] if e["step"] in ("fired", "escalated", "recurred", "reopened")})
        assert t == min(m for m in moments if m > start + 500)
        assert t <= first

        shown = {int(cell.get_attribute("data-point-id")): cell for cell in page.query_selector_all("[data-test=value]")}
        assert shown, "no values shown"
        kinds = {s["point_id"]: s["kind"] for s in play["series"]}
        compared = 0
        for point_id, cell in shown.items():
            expected = _reading_at(client, point_id, kinds[point_id], t)
            raw = cell.get_attribute("data-value")
            if expected is None:
                assert raw in (None, ""), f"point {point_id} shows {raw} where the store holds nothing before {t}"
                continue
            ts, value = expected
            if value is None:
                continue
            assert float(raw) == value, f"point {point_id}: shows {raw}, the store holds {value} at {ts}"
            assert int(cell.get_attribute("data-ts")) == ts
            compared += 1
        assert compared >= 1
        if t == first:  # the alarm's own instant: its point is over its limit
            own = next(s for s in play["series"] if s["mn"] == GAS_MN and f"{s['code']}-{s['field']}" == alarm["point"])
            row = page.locator(f"tr:has([data-point-id='{own['point_id']}'])")
            assert row.locator("[data-state=over_limit]").count() == 1
            assert page.get_attribute("[data-test=marker-state]", "data-state").startswith("alarm")
        query = parse_qs(urlparse(page.url).query)
        assert query["t"] == [str(t)] and query["alarm"] == [str(alarm_id)] and "from" in query and "to" in query
        shot(page, f"playback-{lang}")

        page.select_option("[data-test=speed]", "3600")
        page.click("[data-test=play]")
        expect(page.locator("#page")).to_have_attribute("data-playing", "1")
        expect(page.locator("#page")).not_to_have_attribute("data-t", str(t))
        page.click("[data-test=play]")  # pause
        expect(page.locator("#page")).to_have_attribute("data-playing", "")
        assert int(page.get_attribute("#page", "data-t")) > t
    client.close()


def test_the_site_page_shows_devices_values_against_limits_and_leads_to_playback(server: Server, open_page: Any
                                                                                ) -> None:
    client = _client(server)
    site_id = client.get("/api/v1/devices", params={"mn": GAS_MN}).json()["items"][0]["site_id"]
    detail = client.get(f"/api/v1/sites/{site_id}/detail").json()
    client.close()
    for lang in ("zh", "en"):
        page = open_page(lang=lang, path=f"/sites/{site_id}")
        page.wait_for_selector("table.devices tr[data-mn]")
        assert page.locator(f"tr[data-mn='{GAS_MN}']").count() == 1
        assert page.locator("table.values [data-point-id]").count() == len(detail["values"])
        limited = [v for v in detail["values"] if v["limits"]]
        assert limited and page.locator("table.values td.small").first.inner_text() != ""
        page.wait_for_selector("[data-test=trend] canvas")
        shot(page, f"site-{lang}")
    page.click("[data-test=site-playback]")
    page.wait_for_selector("#page[data-ready='1']")
    assert f"site={site_id}" in page.url
