"""The dashboard's shell: login, language, navigation, and what it is served with."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import CITY_PASSWORD, CITY_USER, Server, shot


def test_login_form_opens_the_dashboard_and_wrong_password_says_so(server: Server, fresh_page: Any) -> None:
    page = fresh_page
    page.goto("/")
    page.fill("input[name=name]", CITY_USER)
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    page.wait_for_selector("text=登录失败")
    assert "wrong name or password" in page.inner_text(".login")
    shot(page, "login-zh")
    page.fill("input[name=password]", CITY_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#bar:not([hidden])")
    assert "市级管理员" in page.inner_text("#who")
    assert page.url.rstrip("/") == server.base_url


def test_language_switch_is_remembered(open_page: Any) -> None:
    page = open_page()
    assert page.inner_text("#nav").split()[0] == "总览"
    page.click("#lang")
    page.wait_for_function("document.querySelector('#nav').innerText.startsWith('Overview')")
    page.reload()
    page.wait_for_selector("#bar:not([hidden])")
    assert page.inner_text("#nav").startswith("Overview")
    assert page.evaluate("document.documentElement.lang") == "en"


def test_pages_are_served_with_a_self_only_policy_and_deep_links_work(server: Server, open_page: Any) -> None:
    for path in ("/", "/sites/1", "/alarms/1", "/playback", "/static/app.js", "/static/vendor/echarts.min.js"):
        answer = httpx.get(server.base_url + path)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "http" not in csp, csp
    assert httpx.get(server.base_url + "/static/../pyproject.toml").status_code == 404
    assert httpx.get(server.base_url + "/static/vendor/nothing.js").status_code == 404
    page = open_page(path="/alarms")
    assert page.locator("#nav a.active").inner_text() == "告警"


def test_district_user_does_not_see_the_registry_page(open_page: Any) -> None:
    page = open_page("auditor")
    assert "档案" not in page.inner_text("#nav")
    page.goto("/registry")
    page.wait_for_selector("text=页面不存在")
