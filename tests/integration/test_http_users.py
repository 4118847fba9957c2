"""Users over HTTP, for city administrators: add, disable, reset a password, tokens."""

from __future__ import annotations

import httpx
import pytest

from forewarn.app import Platform
from tests.integration.api import Fleet, assert_problem, bearer, run

pytestmark = pytest.mark.integration


def test_a_city_administrator_manages_users_and_their_tokens(fleet: Fleet) -> None:
    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        city = bearer(fleet.tokens["city"])
        listed = (await client.get("/api/v1/users", headers=city)).json()
        assert {"city", "hechi", "gasco"} <= {u["name"] for u in listed["items"]}
        assert "argon2" not in str(listed) and all("hash" not in key for u in listed["items"] for key in u)

        made = await client.post("/api/v1/users", headers=city, json={
            "name": "金城江值班", "role": "district_admin", "region_code": "451202", "password": "值班员的长密码123"})
        assert made.status_code == 201, made.text
        assert made.json()["role"] == "district_admin" and made.json()["region_code"] == "451202"
        assert_problem(await client.post("/api/v1/users", headers=city, json={
            "name": "金城江值班", "role": "auditor", "password": "another long one"}), 400)  # the name is taken
        assert_problem(await client.post("/api/v1/users", headers=city, json={
            "name": "short", "role": "auditor", "password": "short"}), 400)

        issued = await client.post("/api/v1/users/金城江值班/tokens", headers=city, json={"label": "大屏", "days": 30})
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        sites = await client.get("/api/v1/sites", headers=bearer(token))
        assert sites.status_code == 200 and sites.json()["total"] == 2  # Hechi's two sites
        tokens = (await client.get("/api/v1/users/金城江值班/tokens", headers=city)).json()
        assert [t["label"] for t in tokens] == ["大屏"] and tokens[0]["expires"] and token not in str(tokens)

        assert (await client.post("/api/v1/users/金城江值班/disable", headers=city)).json()["disabled"] is True
        assert_problem(await client.get("/api/v1/sites", headers=bearer(token)), 401)
        assert (await client.post("/api/v1/users/金城江值班/enable", headers=city)).json()["disabled"] is False
        assert (await client.get("/api/v1/sites", headers=bearer(token))).status_code == 200
        # a password reset ends the user's tokens
        assert (await client.post("/api/v1/users/金城江值班/password", headers=city,
                                  json={"password": "a new long password"})).status_code == 200
        assert_problem(await client.get("/api/v1/sites", headers=bearer(token)), 401)
        assert_problem(await client.post("/api/v1/users/city/disable", headers=city), 400)  # not yourself
        assert_problem(await client.post("/api/v1/users/nobody/disable", headers=city), 404)
        revoked = await client.delete(f"/api/v1/tokens/{issued.json()['id']}", headers=city)
        assert revoked.status_code == 200 and revoked.json()["already"] is True
        log = (await client.get("/api/v1/audit?entity=user&entity_id=金城江值班", headers=city)).json()["items"]
        assert [e["action"] for e in reversed(log)] == ["user.create", "user.disable", "user.enable", "user.password"]

    run(fleet.settings, scenario)
