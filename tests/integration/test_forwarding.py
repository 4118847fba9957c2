"""Two real forewarns linked as a district and its city (docs/linkage.md): the district forwards
its stations' data to the city's HJ 212 port; the city is down for a while; when it is back the
backlog drains, nothing lost or duplicated, each device's frames in the order they were stored,
and the counts say so. A recording relay between them (loopback) shows what went up the wire.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from forewarn.access.users import create_user, issue_api_token
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.config import Settings
from forewarn.forward.config import ForwardConfigError, load_targets
from forewarn.protocols.hj212.codec import parse, wrap
from forewarn.protocols.hj212.framing import StreamFramer
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import PASSWORD, assert_problem, bearer
from tests.integration.harness import eventually, register, send_stored, settings_for

pytestmark = pytest.mark.integration

MNS = ["451202FWD000000000000001", "451202FWD000000000000002"]
CITY_MN = {MNS[0]: "45120200000000000000F001"}  # the city knows the first station by another MN


class Relay:
    """A TCP relay on loopback that records each frame going up."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.frames: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _pipe(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            down_w.close()
            return
        framer = StreamFramer()

        async def upward() -> None:
            while data := await down_r.read(65536):
                self.frames += [f.data for f in framer.feed(data)]
                up_w.write(data)
            up_w.close()

        async def downward() -> None:
            while data := await up_r.read(65536):
                down_w.write(data)
            down_w.close()

        await asyncio.gather(upward(), downward(), return_exceptions=True)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


def _frame(mn: str, minute: int) -> bytes:
    return wrap(f"QN=20261202080{minute:02d}00000;ST=22;CN=2011;PW=123456;MN={mn};Flag=5;"
                f"CP=&&DataTime=2026120208{minute:02d}00;a34002-Rtd={10 + minute}.5,a34002-Flag=N;"
                f"a34004-Rtd={minute}.25,a34004-Flag=N&&")


def _stored(settings: Settings) -> list[tuple[str, str, int, float]]:
    db = sqlite3.connect(settings.db_path)
    try:
        return sorted(db.execute(
            "SELECT d.mn, p.code, r.ts, r.value FROM readings_rtd r JOIN points p ON p.id = r.point_id "
            "JOIN devices d ON d.id = p.device_id").fetchall())
    finally:
        db.close()


def test_a_districts_data_reaches_the_city_once_and_in_order_across_an_outage(tmp_path: Path) -> None:
    for side in ("city", "district"):
        (tmp_path / side).mkdir()
    city = settings_for(tmp_path / "city", rules_enabled=0)
    register(city, tmp_path / "city", [{"mn": CITY_MN[MNS[0]]}, {"mn": MNS[1]}])
    store = SqliteStore(city.db_path, Catalogue())
    try:
        create_user(store.db, "city", PASSWORD, "city_admin", actor="test", origin="test")
        city_token = issue_api_token(store.db, "city", actor="test", origin="test").token
    finally:
        store.close()
    district = settings_for(tmp_path / "district", rules_enabled=0, http_host="127.0.0.1", http_port=0)
    register(district, tmp_path / "district", [{"mn": mn} for mn in MNS])
    store = SqliteStore(district.db_path, Catalogue())
    try:
        kw = {"actor": "test", "origin": "test"}
        create_user(store.db, "city", PASSWORD, "city_admin", **kw)
        create_user(store.db, "hechi", PASSWORD, "district_admin", region_code="451202", **kw)
        tokens = {n: issue_api_token(store.db, n, **kw).token for n in ("city", "hechi")}
    finally:
        store.close()

    async def scenario() -> None:
        up = Platform(city)
        await up.start()
        city_port = up.hj212_port
        relay = Relay(city_port)
        relay_port = await relay.start()
        (district.data_dir / "forward.toml").write_text(
            f'[[target]]\nname = "city"\nhost = "127.0.0.1"\nport = {relay_port}\npassword = "123456"\nst = "22"\n'
            f'regions = ["451200"]\nfactors = ["a34002", "a34004"]\ntimeout_s = 2\n'
            f'mn_map = {{ "{MNS[0]}" = "{CITY_MN[MNS[0]]}" }}\n', encoding="utf-8")
        down = Platform(district, http=True)
        await down.start()
        try:
            await send_stored(down, *(_frame(mn, m) for m in range(10) for mn in MNS))
            await eventually(lambda: len(_stored(city)) == 40, timeout=10)
            # the city goes down for a while; the district keeps storing
            await up.stop()
            await send_stored(down, *(_frame(mn, m) for m in range(10, 30) for mn in MNS))
            assert down.forwarding is not None
            [state] = await down.forwarding.status()
            # the 80 stored since, and any the city stored but did not answer for as it stopped
            assert state.backlog >= 80 and state.connected is False and state.last_error
            # the city comes back on its port: the backlog drains
            up = Platform(replace(city, hj212_port=city_port, http_host="127.0.0.1", http_port=0), http=True)
            await up.start()
            await eventually(lambda: len(_stored(city)) == 120, timeout=30)
            await eventually(lambda: down.read_store.db.execute("SELECT COUNT(*) FROM forward_outbox"
                                                                ).fetchone()[0] == 0, timeout=10)
            [state] = await down.forwarding.status()
            # answered for: all 120, and again any the city had stored without answering (stored once)
            assert state.backlog == 0 and state.delivered >= 120 and state.lag_s is None
            # the district's stations on the city's dashboard: online, with the district's latest values
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{up.http_port}") as client:
                overview = (await client.get("/api/v1/dashboard/overview", headers=bearer(city_token))).json()
                assert sum(site["devices_online"] for site in overview["sites"]) == 2
                latest = await client.get("/api/v1/regions/451202/latest", headers=bearer(city_token))
                assert latest.status_code == 200, latest.text
                values = {(r["mn"], r["code"]): r["value"] for r in latest.json()["items"]}
                assert values[(CITY_MN[MNS[0]], "a34002")] == 39.5 and values[(MNS[1], "a34004")] == 29.25
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{down.http_port}") as client:
                seen = await client.get("/api/v1/forwarding", headers=bearer(tokens["city"]))
                assert seen.status_code == 200, seen.text
                [shown] = seen.json()
                assert shown["name"] == "city" and shown["connected"] is True and shown["backlog"] == 0
                assert_problem(await client.get("/api/v1/forwarding", headers=bearer(tokens["hechi"])), 403)
        finally:
            await down.stop()
            await up.stop()
            await relay.close()

        # what went up: each device's frames in the order they were stored, under the city's MN
        sent = [parse(f) for f in relay.frames]
        for mn in (CITY_MN[MNS[0]], MNS[1]):
            times = [f.params["DataTime"] for f in sent if f.mn == mn]
            assert times == sorted(times) and len(set(times)) == 30, times
        assert all(f.pw == "123456" and f.st == "22" and f.cn == "2011" for f in sent)

    asyncio.run(scenario())
    told = subprocess.run([sys.executable, "-m", "forewarn", "forward", "status", "--data", str(district.data_dir)],
                          capture_output=True, text=True, timeout=60, check=True).stdout
    assert "city  hj212 127.0.0.1:" in told and "backlog 0" in told and "delivered" in told, told
    mine = {(CITY_MN.get(mn, mn), code, ts, value) for mn, code, ts, value in _stored(district)}
    assert set(_stored(city)) == mine and len(mine) == 120  # all of it, once


def test_a_wrong_forwarding_file_is_named_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "forward.toml"
    path.write_text('[[target]]\nname = "province"\nprotocol = "ftp"\n[[target]]\nhost = "x"\n', encoding="utf-8")
    with pytest.raises(ForwardConfigError) as wrong:
        load_targets(path)
    assert "protocol is hj212 or http, not 'ftp'" in str(wrong.value) and "give it a name" in str(wrong.value)
