"""A process runs the roles it is told (forewarn.roles): ingest alone answers devices and stores,
without rules or web; web alone serves the API without a device port; a mistyped role is one line."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from forewarn.app import Platform
from forewarn.roles import ALL, Role, RoleError, not_ported, parse_roles, reuse_port
from forewarn.store.sqlite import SqliteStore
from tests.integration.harness import FakeDevice, data_packet, eventually, register, settings_for
from tests.nats_server import nats_server

MN = "451202ROLE00000000000001"
#: a combustible-gas reading far over every gas preset's limit: an engine would raise an alarm
LEAK = "DataTime=20261122080000;GD1-LEL=80.0,GD1-Flag=N"


def _stored(settings_db: Path) -> tuple[int, int]:
    """(readings rows of every kind, alarms) in the data directory's database."""
    db = SqliteStore(settings_db, _catalogue())
    try:
        rows = sum(db.db.execute(f"SELECT COUNT(*) FROM readings_{k}").fetchone()[0]
                   for k in ("rtd", "minute", "hour", "day"))
        alarms = db.db.execute("SELECT COUNT(*) FROM alarms").fetchone()[0]
    finally:
        db.close()
    return rows, alarms


def _catalogue():  # type: ignore[no-untyped-def]
    from forewarn.catalogue import Catalogue

    return Catalogue()


def test_role_words_and_mistakes() -> None:
    assert parse_roles("all") == ALL
    assert parse_roles("ingest, WEB") == {Role.INGEST, Role.WEB}
    with pytest.raises(RoleError, match="'ingset' is not a role; choose from ingest, rules, web, notify, all"):
        parse_roles("ingset")
    with pytest.raises(RoleError):
        parse_roles(" , ")
    # only ingest is ported to PostgreSQL: the others say so, naming what is missing
    assert not_ported(frozenset({Role.INGEST}), "postgresql://postgres@127.0.0.1/db") is None
    refusal = not_ported(frozenset({Role.INGEST, Role.WEB}), "postgresql://postgres@127.0.0.1/db")
    assert refusal is not None and "role web cannot run on a PostgreSQL store yet" in refusal
    assert not_ported(ALL, "sqlite:///x.db") is None
    # the shared port: on for an ingest process of a split platform, off for the whole one
    assert reuse_port(-1, frozenset({Role.INGEST})) and not reuse_port(-1, ALL)
    assert reuse_port(1, ALL) and not reuse_port(0, frozenset({Role.INGEST}))


def test_ingest_role_alone_answers_devices_and_stores_without_rules_or_web(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, http_port=0, http_host="127.0.0.1")
    register(settings, tmp_path, [{"mn": MN, "site_type": "lpg_station"}])

    async def scenario() -> None:
        platform = Platform(settings, roles=frozenset({Role.INGEST}))
        await platform.start()
        try:
            assert platform.http is None and platform.alarms is None and platform.pipeline is not None
            assert platform.pipeline.judge is None  # nothing judges before the commit
            assert platform.hj212 is not None and platform.hj212.reuse_port
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, LEAK))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        finally:
            await platform.stop()

    asyncio.run(scenario())
    rows, alarms = _stored(settings.db_path)
    assert rows == 1 and alarms == 0  # stored; no engine here to judge it


def test_whole_platform_judges_what_ingest_alone_does_not(tmp_path: Path) -> None:
    """The same reading on ``all``: judged and alarmed, as the platform always did (the test
    above can fail: ``alarms == 0`` is not true of a platform with rules)."""
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN, "site_type": "lpg_station"}])

    async def scenario() -> None:
        platform = Platform(settings)
        await platform.start()
        try:
            assert platform.alarms is not None and platform.hj212 is not None and not platform.hj212.reuse_port
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(data_packet(MN, LEAK))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        finally:
            await platform.stop()

    asyncio.run(scenario())
    assert _stored(settings.db_path)[1] >= 1


def test_web_role_alone_serves_the_api_and_no_device_port(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, http_port=0, http_host="127.0.0.1")

    async def scenario() -> None:
        platform = Platform(settings, roles=frozenset({Role.WEB}))
        await platform.start()
        try:
            assert platform.hj212 is None and platform.alarms is None and platform.http is not None
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.http_port}") as client:
                health = await client.get("/api/v1/health")
            assert health.status_code == 200
        finally:
            await platform.stop()

    asyncio.run(scenario())


def test_two_ingest_roles_share_one_hj212_port(tmp_path: Path) -> None:
    """SO_REUSEPORT: the second ingest process binds the port the first listens on (without it,
    'address in use')."""
    one = settings_for(tmp_path / "one")
    register(one, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        first = Platform(one, roles=frozenset({Role.INGEST}))
        await first.start()
        second = Platform(settings_for(tmp_path / "one", hj212_port=first.hj212_port), roles=frozenset({Role.INGEST}))
        try:
            await second.start()
            assert second.hj212_port == first.hj212_port
            dev = await FakeDevice.connect(first.hj212_port)
            await dev.send(data_packet(MN))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
        finally:
            await second.stop()
            await first.stop()

    asyncio.run(scenario())


def test_unknown_role_is_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "forewarn", "serve", "--role", "ingest,alarms", "--data",
                           str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines == ["forewarn: error: --role 'alarms' is not a role; choose from ingest, rules, web, notify, all "
                     "(several with commas: ingest,web)"]


def test_web_role_on_postgresql_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as nobody:  # the refusal comes before any connection is tried
        nobody.bind(("127.0.0.1", 0))
        port = nobody.getsockname()[1]
        config = tmp_path / "forewarn.toml"
        config.write_text(f'store = "postgresql://postgres@127.0.0.1:{port}/none"\n', encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "forewarn", "serve", "--role", "web", "--config", str(config),
                               "--data", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "role web cannot run on a PostgreSQL store yet" in lines[0]


@pytest.mark.parametrize("role", [Role.RULES, Role.WEB])
def test_a_rules_or_web_process_beside_ingest_follows_when_devices_were_heard(tmp_path: Path, role: Role) -> None:
    """A rules or web process hears no device itself: it must learn from the store when the
    ingest process heard each, or its silence check would call every device silent (rules) and
    its live map show every device offline (web)."""
    settings = settings_for(tmp_path, http_port=0, http_host="127.0.0.1")
    register(settings, tmp_path, [{"mn": MN}])

    async def scenario() -> None:
        ingest = Platform(settings, roles=frozenset({Role.INGEST}))
        rules = Platform(settings, roles=frozenset({role}))
        await ingest.start()
        await rules.start()
        try:
            assert rules.hj212 is None and ingest.pipeline is not None
            assert rules.pipeline is not None and not rules.pipeline.last_seen
            dev = await FakeDevice.connect(ingest.hj212_port)
            await dev.send(data_packet(MN))
            assert (await dev.answer()).cn == "9014"
            await dev.close()
            heard = ingest.pipeline.last_seen
            await eventually(lambda: rules.pipeline is not None and rules.pipeline.last_seen == heard)
        finally:
            await rules.stop()
            await ingest.stop()

    asyncio.run(scenario())


def test_a_rules_worker_judges_what_an_ingest_process_committed_from_the_bus(tmp_path: Path) -> None:
    """Ingest and rules in two platforms joined only by the store and a real NATS: the leak the
    ingest process stored (and judged not at all) is judged by the rules worker, which raises the
    alarm; the reading itself is stored once."""
    with nats_server(tmp_path) as nats:
        settings = settings_for(tmp_path, bus=nats.url)
        register(settings, tmp_path, [{"mn": MN, "site_type": "lpg_station"}])

        async def scenario() -> None:
            ingest = Platform(settings, roles=frozenset({Role.INGEST}))
            rules = Platform(settings, roles=frozenset({Role.RULES}))
            await rules.start()
            await ingest.start()
            try:
                assert ingest.alarms is None and rules.feed is not None
                dev = await FakeDevice.connect(ingest.hj212_port)
                await dev.send(data_packet(MN, LEAK))
                assert (await dev.answer()).cn == "9014"
                await dev.close()
                feed = rules.feed
                await eventually(lambda: feed.judged >= 1, timeout=10)
            finally:
                await ingest.stop()
                await rules.stop()

        asyncio.run(scenario())
    rows, alarms = _stored(settings.db_path)
    assert rows == 1 and alarms == 1
    store = SqliteStore(settings.db_path, _catalogue())
    try:  # the rules worker wrote its decisions, not the reading again
        assert store.counters().get("readings_already_stored", 0) == 0
    finally:
        store.close()


def test_the_serving_line_never_shows_the_store_password() -> None:
    from forewarn.cli.run import _without_password

    assert _without_password("postgresql://forewarn:s3cret@pg1:5432/forewarn") == "postgresql://forewarn:***@pg1:5432/forewarn"
    assert _without_password("postgresql://postgres@127.0.0.1:5432/test") == "postgresql://postgres@127.0.0.1:5432/test"
