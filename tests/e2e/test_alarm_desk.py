"""The alarm desk in a real browser, against the demo fed by the simulator: an injected gas
leak's alarm appears on the desk; on its page the evidence chart is drawn, a step out of order
shows the API's own words, and the alarm is taken through every step (acknowledge, dispatch,
the on-site check with a photo, a comment, resolve, close) to closed; a bulk comment from the
desk; a maintenance silence added and ended. Screenshots of each page in Chinese and English."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from forewarn.access.users import issue_api_token
from forewarn.cli.common import open_store
from tests.e2e.conftest import CITY_USER, GAS_MN, TZ, Server, shot

#: the smallest PNG there is (1x1), as a site photo
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _client(server: Server) -> httpx.Client:
    with open_store(server.settings) as store:
        token = issue_api_token(store.db, CITY_USER, "e2e desk", actor="e2e", origin="test", days=1).token
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _lel(server: Server, value: float) -> None:
    now = datetime.now(TZ).replace(microsecond=0)
    server.send(GAS_MN, f"DataTime={now:%Y%m%d%H%M%S};GD1-LEL={value},GD1-Flag=N")


def _wait(check: Any, what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s")


def _state(page: Any) -> str:
    return str(page.get_attribute(".alarm-head .badge[data-state]", "data-state"))


def _take(page: Any, step: str, state: str, **fields: str) -> None:
    form = f"form[data-step={step}]"
    for name, value in fields.items():
        page.fill(f"{form} [name={name}]", value)
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f".alarm-head .badge[data-state={state}]")


def test_an_incidents_alarm_is_handled_to_closure_in_the_browser(server: Server, open_page: Any) -> None:
    api = _client(server)
    try:
        _lel(server, 64.0)
        alarm = _wait(lambda: next((a for a in api.get("/api/v1/alarms", params={"rule": "gas.lel", "open": "true"}
                                                       ).json()["items"] if a["mn"] == GAS_MN), None),
                      "the gas leak raised no alarm")
        aid = alarm["id"]

        desk = open_page(path="/alarms?domain=gas")
        row = f".desk-table tr[data-id='{aid}']"
        desk.wait_for_selector(row)
        assert alarm["site"] in desk.inner_text(row) and "燃气" in desk.inner_text(row)
        shot(desk, "alarm-desk-zh")

        desk.click(f"{row} a[href='/alarms/{aid}']")
        desk.wait_for_selector(".evidence canvas")  # the evidence chart is drawn
        assert desk.get_attribute(".playback-link", "href") == f"/playback?alarm={aid}"
        assert "gas.lel" in desk.inner_text(".facts") and "GB/T 50493" in desk.inner_text(".facts")
        assert "本次过程" in desk.inner_text(".facts") and "峰值" in desk.inner_text(".facts")  # the episode, its peak
        assert "fired" not in desk.inner_text(".steps") and "触发" in desk.inner_text(".steps")

        # out of order: the page shows the API's own sentence
        desk.click("form[data-step=close] button[type=submit]")
        desk.wait_for_function("document.querySelector('form[data-step=close] .error-text').textContent.length > 0")
        said = desk.inner_text("form[data-step=close] .error-text")
        expected = api.post(f"/api/v1/alarms/{aid}/close").json()["detail"]
        assert said == expected and "cannot close now" in said, said

        _take(desk, "ack", "acknowledged", note="值班员已确认")
        _take(desk, "dispatch", "dispatched", to="金城江区燃气执法队")
        form = "form[data-step=record]"
        desk.fill(f"{form} [name=findings]", "灌装间阀门泄漏")
        desk.fill(f"{form} [name=measures]", "已关阀更换垫片")
        desk.set_input_files(f"{form} input[type=file]", files=[
            {"name": "现场照片.png", "mimeType": "image/png", "buffer": PNG}])
        desk.click(f"{form} button[type=submit]")
        desk.wait_for_selector(".alarm-head .badge[data-state=checked]")
        assert desk.inner_text(".steps a[href*='/attachments/']") == "现场照片.png"
        desk.fill("form[data-step=comment] [name=text]", "复查无泄漏")
        desk.click("form[data-step=comment] button[type=submit]")
        desk.wait_for_selector(".steps li[data-step=commented]")
        _take(desk, "resolve", "resolved")

        # the air is clean again (the readings say so), then the review closes it
        # the detector keeps reporting clean air, as it does every few seconds (one reading can share its
        # second with the simulator's own report of the same detector)
        def cleared() -> bool:
            if api.get(f"/api/v1/alarms/{aid}").json()["condition"] == "cleared":
                return True
            _lel(server, 3.0)
            time.sleep(0.5)
            return False

        _wait(cleared, "the leak did not clear", timeout=30.0)
        _take(desk, "close", "closed", note="审核通过")
        steps = [s["step"] for s in api.get(f"/api/v1/alarms/{aid}").json()["steps"]]
        for step in ("acknowledged", "dispatched", "checked", "commented", "resolved", "closed"):
            assert step in steps, steps
        shot(desk, "alarm-zh")

        # the desk: closed alarms, one bulk comment for those selected
        desk.goto("/alarms?state=closed&domain=gas")
        desk.wait_for_selector(row)
        desk.check(f"{row} input[type=checkbox]")
        desk.select_option("select[name=bulk-step]", "comment")
        desk.fill("input[name=bulk-note]", "已归档")
        desk.click(".bulkbar button.primary")
        desk.wait_for_selector(".toast:not([hidden])")
        assert "1 条已处理" in desk.inner_text(".toast")
        _wait(lambda: api.get(f"/api/v1/alarms/{aid}").json()["steps"][-1]["note"] == "已归档", "no bulk comment")

        english = open_page(lang="en", path=f"/alarms/{aid}")
        english.wait_for_selector(".evidence canvas")
        assert "Closed" in english.inner_text(".alarm-head") and "Acknowledged" in english.inner_text(".steps")
        shot(english, "alarm-en")
        english.goto("/alarms?open=all")
        english.wait_for_selector(row)
        shot(english, "alarm-desk-en")
    finally:
        api.close()


def test_a_silence_is_added_and_ended_from_its_page(server: Server, open_page: Any) -> None:
    page = open_page(path="/silences")
    page.wait_for_selector("form.silence-form")
    until = (datetime.now(TZ) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("form.silence-form [name=mn]", GAS_MN)
    page.fill("form.silence-form [name=until]", until)
    page.fill("form.silence-form [name=note]", "更换传感器")
    page.click("form.silence-form button[type=submit]")
    page.wait_for_selector("table.silences td:has-text('更换传感器')")
    shot(page, "silences-zh")
    english = open_page(lang="en", path="/silences")
    english.wait_for_selector("table.silences td:has-text('更换传感器')")
    shot(english, "silences-en")
    english.click("table.silences tr:has-text('更换传感器') button.danger")
    english.wait_for_selector("table.silences td:has-text('No silence running')")
