"""Dashboard sessions over real HTTP: login, cookie, CSRF, logout, rate limit, password change."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from forewarn.access.users import disable_user, enable_user, set_password
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import PASSWORD, Fleet, assert_problem, run

pytestmark = pytest.mark.integration


def plain_http(fleet: Fleet) -> Settings:
    """Plain HTTP on loopback: a Secure cookie would not be sent back by httpx."""
    return replace(fleet.settings, cookie_secure=0)


def test_login_gives_a_session_cookie_and_csrf_token_that_unsafe_requests_need(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        answer = await client.post("/api/v1/auth/login", json={"name": "hechi", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["user"]["name"] == "hechi" and body["user"]["role"] == "district_admin"
        csrf = body["csrf_token"]
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie

        me = await client.get("/api/v1/auth/session")
        assert me.status_code == 200 and me.json()["user"]["name"] == "hechi"
        assert me.json()["csrf_token"] == csrf and "write_registry" in me.json()["may"]

        # an unsafe request with the cookie but without the CSRF token is refused
        assert_problem(await client.post("/api/v1/auth/logout"), 403)
        assert_problem(await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "forged"}), 403)
        out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200, out.text
        # the old cookie no longer works, even when replayed
        client.cookies.set("forewarn_session", answer.cookies["forewarn_session"])
        assert_problem(await client.get("/api/v1/auth/session"), 401)

    run(plain_http(fleet), scenario)


def test_the_session_cookie_is_secure_by_default(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        answer = await client.post("/api/v1/auth/login", json={"name": "city", "password": PASSWORD})
        assert answer.status_code == 200
        assert "secure" in answer.headers["set-cookie"].lower()

    run(fleet.settings, scenario)


def test_failed_logins_are_rate_limited_and_say_when_to_retry(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        for _ in range(5):
            assert_problem(await client.post("/api/v1/auth/login", json={"name": "city", "password": "wrong"}), 401)
        # even the right password now waits
        locked = assert_problem(await client.post("/api/v1/auth/login", json={"name": "city", "password": PASSWORD}),
                                429)
        assert "try again in" in str(locked["detail"])
        assert_problem(await client.post("/api/v1/auth/login", json={"name": "nobody", "password": PASSWORD}), 401)
        assert_problem(await client.post("/api/v1/auth/login", json=["not", "an", "object"]), 400)

    run(fleet.settings, scenario)


def test_a_password_change_ends_the_users_sessions(fleet: Fleet, tmp_path: Path) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        answer = await client.post("/api/v1/auth/login", json={"name": "gasco", "password": PASSWORD})
        assert answer.status_code == 200
        assert (await client.get("/api/v1/auth/session")).status_code == 200
        store = SqliteStore(fleet.settings.db_path, Catalogue())
        try:
            set_password(store.db, "gasco", "another long password", actor="test", origin="test")
        finally:
            store.close()
        assert_problem(await client.get("/api/v1/auth/session"), 401)

    run(plain_http(fleet), scenario)


def test_users_change_their_own_password_and_must_log_in_again(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        login = await client.post("/api/v1/auth/login", json={"name": "hechi", "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        wrong = await client.post("/api/v1/auth/password", headers=csrf,
                                  json={"current": "not it at all", "new": "a brand new password"})
        assert_problem(wrong, 401)
        short = await client.post("/api/v1/auth/password", headers=csrf, json={"current": PASSWORD, "new": "short"})
        assert "10 characters" in str(assert_problem(short, 400)["detail"])
        changed = await client.post("/api/v1/auth/password", headers=csrf,
                                    json={"current": PASSWORD, "new": "a brand new password"})
        assert changed.status_code == 200, changed.text
        # this session and the user's API token have ended; the new password logs in
        assert_problem(await client.get("/api/v1/auth/session"), 401)
        assert_problem(await client.get("/api/v1/sites", headers={"Authorization": f"Bearer {fleet.tokens['hechi']}"}),
                       401)
        assert (await client.post("/api/v1/auth/login", json={"name": "hechi", "password": PASSWORD})).status_code == 401
        again = await client.post("/api/v1/auth/login", json={"name": "hechi", "password": "a brand new password"})
        assert again.status_code == 200

    run(plain_http(fleet), scenario)


def test_disabling_a_user_ends_their_sessions_for_good(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        assert (await client.post("/api/v1/auth/login", json={"name": "gasco", "password": PASSWORD})).status_code == 200
        store = SqliteStore(fleet.settings.db_path, Catalogue())
        try:
            disable_user(store.db, "gasco", actor="test", origin="test")
            enable_user(store.db, "gasco", actor="test", origin="test")
        finally:
            store.close()
        assert_problem(await client.get("/api/v1/auth/session"), 401)

    run(plain_http(fleet), scenario)


def test_a_burst_of_parallel_guesses_is_not_all_tried(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        guesses = [client.post("/api/v1/auth/login", json={"name": "city", "password": f"wrong{i}"}) for i in range(30)]
        answers = await asyncio.gather(*guesses)
        tried = [a for a in answers if a.status_code == 401]
        # one check per name at a time: the rest wait (429), so guesses are counted one by one
        assert 1 <= len(tried) <= 3, len(tried)
        assert all(a.status_code in (401, 429) for a in answers)
        assert all(a.headers.get("retry-after") for a in answers if a.status_code == 429)

    run(fleet.settings, scenario)


def test_a_control_room_screen_stays_logged_in_for_days_but_may_only_read(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        screen = await client.post("/api/v1/auth/login", json={"name": "city", "password": PASSWORD, "screen": True})
        assert screen.status_code == 200, screen.text
        assert screen.json()["read_only"] is True
        assert "Max-Age=2592000" in screen.headers["set-cookie"]  # 30 days, not a person's 12 hours
        csrf = {"X-CSRF-Token": screen.json()["csrf_token"]}
        me = await client.get("/api/v1/auth/session")
        assert me.status_code == 200 and me.json()["read_only"] is True
        assert (await client.get("/api/v1/dashboard/overview")).status_code == 200
        # a screen on a wall can show, never act: even a city administrator's
        refused = await client.post("/api/v1/silences", headers=csrf,
                                    json={"site": 1, "hours": 1, "reason": "from the screen"})
        assert "read-only" in str(assert_problem(refused, 403)["detail"])
        assert_problem(await client.post("/api/v1/auth/password", headers=csrf,
                                         json={"current": PASSWORD, "new": "a brand new password"}), 403)

        async with httpx.AsyncClient(base_url=str(client.base_url), timeout=10) as person:
            assert (await person.post("/api/v1/auth/login", json={"name": "city", "password": PASSWORD})).status_code == 200
            assert (await person.get("/api/v1/auth/session")).json()["read_only"] is False
            # three hours without a request (the clock moved by moving the sessions' last use back)
            db = sqlite3.connect(fleet.settings.db_path)
            with db:
                db.execute("UPDATE sessions SET last_used_ms = last_used_ms - 3 * 3600000")
            db.close()
            assert_problem(await person.get("/api/v1/auth/session"), 401)  # a person's session went idle
        assert (await client.get("/api/v1/dashboard/overview")).status_code == 200  # the screen's did not
        assert (await client.post("/api/v1/auth/logout", headers=csrf)).status_code == 200
        assert_problem(await client.get("/api/v1/auth/session"), 401)
        bad = await client.post("/api/v1/auth/login", json={"name": "city", "password": PASSWORD, "screen": "yes"})
        assert_problem(bad, 400)

    run(plain_http(fleet), scenario)
