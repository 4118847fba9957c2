"""What every HTTP API test needs: a registered fleet with users of each role, a running platform."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from forewarn.access.users import create_user, find_enterprise, issue_api_token, issue_device_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.model import Kind
from forewarn.store.sqlite import SqliteStore
from tests.integration.harness import register, settings_for

HECHI_MN = "451202A1FE00000000000001"   # region 451202, enterprise 河池市液化石油气公司
HECHI_MN2 = "451202A1FE00000000000002"
DATONG_MN = "140213DUST00000000000001"  # region 140213, another enterprise
PASSWORD = "correct horse battery staple"
TZ = ZoneInfo("Asia/Shanghai")
TS_MS = int(datetime(2026, 11, 22, 8, 0, tzinfo=TZ).timestamp() * 1000)


@dataclass
class Fleet:
    settings: Settings
    tokens: dict[str, str]        # user name -> API token
    device_tokens: dict[str, str]  # MN -> device token


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    settings = settings_for(tmp_path, http_host="127.0.0.1", http_port=0)
    register(settings, tmp_path, [
        {"mn": HECHI_MN},
        {"mn": HECHI_MN2, "site": "储配站二"},
        {"mn": DATONG_MN, "region_code": "140213", "region_name": "平城区", "parent_region_code": "140200",
         "enterprise": "大同某工厂", "site": "一号车间", "site_type": "factory"},
    ])
    store = SqliteStore(settings.db_path, Catalogue())
    db = store.db
    try:
        kw = {"actor": "test", "origin": "test"}
        create_user(db, "city", PASSWORD, "city_admin", **kw)
        create_user(db, "hechi", PASSWORD, "district_admin", region_code="451202", **kw)
        create_user(db, "datong", PASSWORD, "district_admin", region_code="140213", **kw)
        create_user(db, "gasco", PASSWORD, "enterprise_user", enterprise_id=find_enterprise(db, "河池市液化石油气公司"), **kw)
        create_user(db, "factory", PASSWORD, "enterprise_user", enterprise_id=find_enterprise(db, "大同某工厂"), **kw)
        tokens = {name: issue_api_token(db, name, **kw).token for name in ("city", "hechi", "datong", "gasco", "factory")}
        device_tokens = {
            mn: issue_device_token(db, db.execute("SELECT id FROM devices WHERE mn = ?", (mn,)).fetchone()[0], **kw)
            for mn in (HECHI_MN, HECHI_MN2, DATONG_MN)
        }
    finally:
        store.close()
    return Fleet(settings, tokens, device_tokens)


Scenario = Callable[[Platform, httpx.AsyncClient], Awaitable[None]]


def run(settings: Settings, scenario: Scenario) -> None:
    async def main() -> None:
        platform = Platform(settings, http=True)
        await platform.start()
        try:
            base = f"http://127.0.0.1:{platform.http_port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                await scenario(platform, client)
        finally:
            await platform.stop()

    asyncio.run(main())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rows(settings: Settings, mn: str) -> list[tuple[str, str, int, float | None, str]]:
    store = SqliteStore(settings.db_path, Catalogue())
    try:
        return sorted((r.code, r.field, r.ts_ms, r.value, r.flag) for r in store.readings(mn, Kind.RTD))
    finally:
        store.close()


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body  # type: ignore[no-any-return]
