"""Users, logins, API and device tokens, sessions and their audit: the same behaviour on SQLite
and on PostgreSQL.

Every test runs the access layer's use cases (forewarn.access.users, .sessions, .bootstrap)
on a connection of each store: a fresh migrated SQLite file, and a fresh schema of the
machine's PostgreSQL with its migrations applied. Only the repository behind them differs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher

from forewarn.access import audit
from forewarn.access.bootstrap import ensure_admin
from forewarn.access.errors import AccessError, UserExists
from forewarn.access.passwords import hash_password
from forewarn.access.roles import Role
from forewarn.access.sessions import end_session, open_session, touch_session, user_for_session
from forewarn.access.tx import atomic
from forewarn.access.users import (
    authenticate,
    create_user,
    device_for_token,
    disable_user,
    enable_user,
    find_enterprise,
    get_user,
    issue_api_token,
    issue_device_token,
    list_api_tokens,
    list_users,
    revoke_api_token,
    revoke_device_tokens,
    set_password,
    user_for_token,
)
from forewarn.catalogue import Catalogue
from forewarn.store import migrate as sqlite_migrate
from forewarn.store.dialect import POSTGRES, SQLITE
from forewarn.store.open import open_store
from forewarn.store.postgres import migrate as pg_migrate
from forewarn.store.users import NewUser, users_repository

PW = "correct-horse-9"
WHO = {"actor": "tester", "origin": "test"}
#: PW hashed once: argon2id takes a tenth of a second or more, and most tests only need a user
FAST = {"password_hash": hash_password(PW)}
DAY = 86_400_000

#: a registry both engines hold the same: two regions, one enterprise, one site, one device
_REGISTRY = [
    ("INSERT INTO regions (code, name, parent_code) VALUES (?, ?, ?)", ("451200", "河池市", None)),
    ("INSERT INTO regions (code, name, parent_code) VALUES (?, ?, ?)", ("451202", "金城江区", "451200")),
    ("INSERT INTO enterprises (id, name, region_code) VALUES (?, ?, ?)", (1, "河池燃气", "451202")),
    ("INSERT INTO sites (id, enterprise_id, name, site_type, region_code) VALUES (?, ?, ?, ?, ?)",
     (1, 1, "城东站", "gas", "451202")),
    ("INSERT INTO devices (id, mn, site_id, registered_ms) VALUES (?, ?, ?, ?)", (3, "MN0003", 1, 0)),
]


@dataclass
class Engine:
    """One store's connection as the access layer receives it, and a way to open another."""

    name: str
    db: Any
    connect: Callable[[], Any]


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA foreign_keys=ON")
    return db


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    opened: list[Any] = []
    if request.param == "sqlite":
        path = tmp_path / "forewarn.db"

        def connect() -> Any:
            opened.append(_sqlite_connect(path))
            return opened[-1]

        db = connect()
        sqlite_migrate.migrate(db)
        dialect = SQLITE
    else:
        dsn = request.getfixturevalue("pg_dsn")

        def connect() -> Any:
            opened.append(psycopg.connect(dsn, autocommit=True))
            return opened[-1]

        db = connect()
        pg_migrate.migrate(db)
        dialect = POSTGRES
    with atomic(db):
        for sql, args in _REGISTRY:
            db.execute(dialect.sql(sql), args)
    if request.param == "postgres":  # explicit ids above: later identities must not collide
        db.execute("SELECT setval(pg_get_serial_sequence('enterprises', 'id'), 10)")
    try:
        yield Engine(request.param, db, connect)
    finally:
        for conn in opened:
            conn.close()


# ---------------------------------------------------------------------- users


def test_users_are_created_with_their_reach_and_listed_by_name(engine: Engine) -> None:
    db = engine.db
    create_user(db, "city", PW, Role.CITY_ADMIN, **WHO, now_ms=10)
    district = create_user(db, "jcj", PW, "district_admin", region_code="451202", **WHO, **FAST)
    gas = create_user(db, "河池燃气操作员", PW, Role.ENTERPRISE_USER, enterprise_id=find_enterprise(db, "河池燃气"), **WHO, **FAST)
    assert gas.enterprise == "河池燃气" and gas.role is Role.ENTERPRISE_USER and gas.enterprise_id == 1
    assert district.scope.region_prefix == "451202"
    assert [u.name for u in list_users(db)] == sorted(["city", "jcj", "河池燃气操作员"])
    city = get_user(db, "city")
    assert city is not None and city.created_ms == city.password_changed_ms == 10 and not city.disabled
    assert get_user(db, "nobody") is None
    with pytest.raises(AccessError, match="no enterprise named '别家'"):
        find_enterprise(db, "别家")


@pytest.mark.parametrize(("role", "extra", "message"), [
    (Role.DISTRICT_ADMIN, {"region_code": "999999"}, "no region with code '999999'"),
    (Role.ENTERPRISE_USER, {"enterprise_id": 42}, "no enterprise with id 42"),
    (Role.CITY_ADMIN, {"region_code": "451200"}, "has no region"),
])
def test_a_reach_that_does_not_exist_is_refused_and_nothing_is_written(
    engine: Engine, role: Role, extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(AccessError, match=message):
        create_user(engine.db, "someone", PW, role, **extra, **WHO, **FAST)
    assert list_users(engine.db) == [] and audit.recent(engine.db) == []


def test_a_name_already_taken_is_refused_with_one_line(engine: Engine) -> None:
    db = engine.db
    create_user(db, "li", PW, Role.AUDITOR, **WHO, **FAST)
    with pytest.raises(UserExists, match="^a user named 'li' already exists$"):
        create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
    [li] = list_users(db)
    assert li.role is Role.AUDITOR
    assert [e.action for e in audit.history(db, "user", "li")] == ["user.create"]
    # the repository itself reports a taken name by returning no id, not by an engine's error text
    assert users_repository(db).add_user(NewUser("li", "x", "auditor", None, None, 0)) is None


def test_a_refused_step_inside_a_transaction_rolls_back_only_itself(engine: Engine) -> None:
    db = engine.db
    create_user(db, "keep", PW, Role.AUDITOR, **WHO, **FAST)
    with atomic(db):
        create_user(db, "inner", PW, Role.AUDITOR, **WHO, **FAST)
        with pytest.raises(UserExists):
            create_user(db, "keep", PW, Role.AUDITOR, **WHO, **FAST)
        create_user(db, "after", PW, Role.AUDITOR, **WHO, **FAST)  # the transaction goes on (not aborted)
    assert {u.name for u in list_users(db)} == {"keep", "inner", "after"}
    with pytest.raises(RuntimeError), atomic(db):
        create_user(db, "gone", PW, Role.AUDITOR, **WHO, **FAST)
        raise RuntimeError("the caller fails after the user was made")
    assert get_user(db, "gone") is None and audit.history(db, "user", "gone") == []


def test_two_connections_creating_one_name_at_once_make_one_user(engine: Engine) -> None:
    barrier = threading.Barrier(2)
    results: list[str] = []

    def make() -> None:
        conn = engine.connect()
        barrier.wait()
        try:
            create_user(conn, "twin", PW, Role.AUDITOR, **WHO, **FAST)
            results.append("made")
        except UserExists:
            results.append("taken")

    threads = [threading.Thread(target=make) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["made", "taken"]
    assert [u.name for u in list_users(engine.db)] == ["twin"]


def test_two_first_starts_at_once_make_one_administrator(engine: Engine) -> None:
    barrier = threading.Barrier(2)
    lines: list[str | None] = []

    def start() -> None:
        conn = engine.connect()
        barrier.wait()
        lines.append(ensure_admin(conn))

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    made = [line for line in lines if line is not None]
    assert len(lines) == 2 and len(made) == 1 and "first start: administrator admin" in made[0]
    password = made[0].split("初始密码 ")[1].split("，")[0]
    admin = authenticate(engine.db, "admin", password)
    assert admin is not None and admin.role is Role.CITY_ADMIN
    assert ensure_admin(engine.db) is None and [u.name for u in list_users(engine.db)] == ["admin"]


# ---------------------------------------------------------------------- logins


def test_authenticate_with_the_right_password_only(engine: Engine) -> None:
    db = engine.db
    create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
    user = authenticate(db, "li", PW)
    assert user is not None and user.name == "li" and user.role is Role.CITY_ADMIN
    assert authenticate(db, "li", PW + "x") is None
    assert authenticate(db, "nobody", PW) is None
    set_password(db, "li", "a-new-password", **WHO, now_ms=5)
    assert authenticate(db, "li", PW) is None
    li = authenticate(db, "li", "a-new-password")
    assert li is not None and li.password_changed_ms == 5
    with pytest.raises(AccessError, match="no user named 'ghost'"):
        set_password(db, "ghost", PW, **WHO)


def test_an_old_hash_is_replaced_at_login(engine: Engine) -> None:
    db = engine.db
    user = create_user(db, "old", PW, Role.AUDITOR, **WHO, **FAST)
    repo = users_repository(db)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PW)
    repo.set_password_hash(user.id, weak, 1)
    assert authenticate(db, "old", PW) is not None
    secret = repo.login_secret("old")
    assert secret is not None and secret.password_hash != weak and "m=65536" in secret.password_hash
    assert not repo.replace_password_hash(user.id, weak, "stale")  # a rehash never undoes a newer hash
    assert authenticate(db, "old", PW) is not None


def test_a_disabled_user_cannot_log_in_and_enabling_lets_them_again(engine: Engine) -> None:
    db = engine.db
    create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
    assert disable_user(db, "li", **WHO)
    assert not disable_user(db, "li", **WHO)  # already: no change, no audit entry
    assert authenticate(db, "li", PW) is None
    assert enable_user(db, "li", **WHO)
    assert not enable_user(db, "li", **WHO)
    assert authenticate(db, "li", PW) is not None
    assert [e.action for e in audit.history(db, "user", "li")] == ["user.create", "user.disable", "user.enable"]
    with pytest.raises(AccessError, match="no user named 'ghost'"):
        disable_user(db, "ghost", **WHO)


# ---------------------------------------------------------------------- API tokens


def test_api_tokens_are_issued_found_noted_and_revoked(engine: Engine) -> None:
    db = engine.db
    create_user(db, "client", PW, Role.DISTRICT_ADMIN, region_code="451200", **WHO, **FAST)
    issued = issue_api_token(db, "client", "大屏", **WHO, now_ms=1_000, days=None)
    assert len(issued.token) >= 43
    user = user_for_token(db, issued.token, now_ms=2_000)
    assert user is not None and user.name == "client" and user.scope.region_prefix == "4512"
    [listed] = list_api_tokens(db, "client")
    assert (listed.id, listed.name, listed.created_ms, listed.last_used_ms, listed.revoked, listed.expires_ms) == (
        issued.id, "大屏", 1_000, 2_000, False, None)
    user_for_token(db, issued.token, now_ms=30_000)  # noted at most once a minute
    assert list_api_tokens(db)[0].last_used_ms == 2_000
    user_for_token(db, issued.token, now_ms=62_000)
    assert list_api_tokens(db)[0].last_used_ms == 62_000
    assert user_for_token(db, issued.token + "x") is None and user_for_token(db, "") is None
    disable_user(db, "client", **WHO)
    assert user_for_token(db, issued.token) is None  # a disabled user's tokens do not work
    with pytest.raises(AccessError, match="disabled"):
        issue_api_token(db, "client", **WHO)
    enable_user(db, "client", **WHO)
    assert user_for_token(db, issued.token) is not None
    assert revoke_api_token(db, issued.id, **WHO)
    assert not revoke_api_token(db, issued.id, **WHO)
    assert user_for_token(db, issued.token) is None and list_api_tokens(db, "client")[0].revoked
    with pytest.raises(AccessError, match="no API token with id 999"):
        revoke_api_token(db, 999, **WHO)
    assert [e.action for e in audit.history(db, "api_token", issued.id)] == ["token.issue", "token.revoke"]


def test_api_tokens_end_after_their_days(engine: Engine) -> None:
    db = engine.db
    create_user(db, "client", PW, Role.CITY_ADMIN, **WHO, **FAST)
    issued = issue_api_token(db, "client", **WHO, now_ms=0, days=30)
    assert user_for_token(db, issued.token, now_ms=30 * DAY - 1) is not None
    assert user_for_token(db, issued.token, now_ms=30 * DAY) is None
    assert list_api_tokens(db, "client")[0].expires_ms == 30 * DAY
    forever = issue_api_token(db, "client", **WHO, now_ms=0, days=None)
    assert user_for_token(db, forever.token, now_ms=3650 * DAY) is not None


def test_a_new_password_ends_the_users_tokens_and_sessions(engine: Engine) -> None:
    db = engine.db
    user = create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
    issued = issue_api_token(db, "li", **WHO)
    opened = open_session(db, user, now_ms=1_000, ttl_ms=DAY, address="127.0.0.1")
    other = create_user(db, "wang", PW, Role.AUDITOR, **WHO, **FAST)
    kept = issue_api_token(db, "wang", **WHO)
    set_password(db, "li", "a-new-password", **WHO)
    assert user_for_token(db, issued.token) is None
    assert user_for_session(db, opened.token, now_ms=2_000, idle_ms=DAY) is None
    assert user_for_token(db, kept.token) == other  # another user's token is untouched


# ---------------------------------------------------------------------- device tokens


def test_device_tokens_are_issued_found_and_revoked(engine: Engine) -> None:
    db = engine.db
    first = issue_device_token(db, 3, **WHO)
    second = issue_device_token(db, 3, **WHO)
    assert device_for_token(db, first) == 3 and device_for_token(db, second) == 3
    assert device_for_token(db, "not-a-token") is None and device_for_token(db, "") is None
    with pytest.raises(AccessError, match="no device with id 99"):
        issue_device_token(db, 99, **WHO)
    assert revoke_device_tokens(db, 3, **WHO) == 2
    assert device_for_token(db, first) is None and device_for_token(db, second) is None
    assert revoke_device_tokens(db, 3, **WHO) == 0
    entries = audit.history(db, "device", 3)
    assert [e.action for e in entries] == ["device_token.issue", "device_token.issue", "device_token.revoke"]
    assert entries[0].after is not None and entries[0].after["mn"] == "MN0003"


# ---------------------------------------------------------------------- sessions


def test_a_session_lives_until_it_expires_idles_or_ends(engine: Engine) -> None:
    db = engine.db
    user = create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
    opened = open_session(db, user, now_ms=0, ttl_ms=10 * 60_000, address="10.0.0.7")
    live = user_for_session(db, opened.token, now_ms=1_000, idle_ms=120_000)
    assert live is not None and live.id == opened.id and live.user == user and not live.read_only
    assert live.last_used_ms == 0
    assert user_for_session(db, opened.token + "x", now_ms=1_000, idle_ms=120_000) is None
    assert user_for_session(db, opened.token, now_ms=120_000, idle_ms=120_000) is None  # idle
    touch_session(db, opened.id, 110_000)
    touch_session(db, opened.id, 50_000)  # a late note never moves the last use back
    live = user_for_session(db, opened.token, now_ms=200_000, idle_ms=120_000)
    assert live is not None and live.last_used_ms == 110_000
    assert user_for_session(db, opened.token, now_ms=10 * 60_000, idle_ms=DAY) is None  # expired
    end_session(db, opened.id, "li")
    assert user_for_session(db, opened.token, now_ms=200_000, idle_ms=120_000) is None  # ended
    entries = audit.history(db, "session", opened.id)
    assert [e.action for e in entries] == ["session.login", "session.logout"]
    assert entries[0].after == {"user": "li", "address": "10.0.0.7", "expires_ms": 10 * 60_000, "read_only": False}


def test_a_screen_session_is_read_only_and_never_idles(engine: Engine) -> None:
    db = engine.db
    user = create_user(db, "wall", PW, Role.AUDITOR, **WHO, **FAST)
    screen = open_session(db, user, now_ms=0, ttl_ms=30 * DAY, address="10.0.0.8", read_only=True)
    live = user_for_session(db, screen.token, now_ms=7 * DAY, idle_ms=60_000)
    assert live is not None and live.read_only
    assert user_for_session(db, screen.token, now_ms=30 * DAY, idle_ms=60_000) is None


def test_disabling_a_user_ends_their_sessions_for_good(engine: Engine) -> None:
    db = engine.db
    user = create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
    opened = open_session(db, user, now_ms=0, ttl_ms=DAY, address="x" * 100)
    disable_user(db, "li", **WHO)
    assert user_for_session(db, opened.token, now_ms=1, idle_ms=DAY) is None
    enable_user(db, "li", **WHO)  # a session is a login: enabling does not bring it back
    assert user_for_session(db, opened.token, now_ms=1, idle_ms=DAY) is None
    assert audit.history(db, "session", opened.id)[0].after == {
        "user": "li", "address": "x" * 64, "expires_ms": DAY, "read_only": False}


# ---------------------------------------------------------------------- audit


def test_every_write_is_audited_readably_and_without_secrets(engine: Engine) -> None:
    db = engine.db
    create_user(db, "张三", PW, Role.ENTERPRISE_USER, enterprise_id=1, actor="admin", origin="cli", now_ms=10)
    set_password(db, "张三", "another-password", actor="admin", origin="cli", now_ms=20)
    disable_user(db, "张三", actor="王五", origin="http")
    entries = audit.history(db, "user", "张三")
    assert [(e.action, e.actor, e.origin) for e in entries] == [
        ("user.create", "admin", "cli"), ("user.password", "admin", "cli"), ("user.disable", "王五", "http")]
    assert entries[0].before is None and entries[0].after is not None
    assert entries[0].after["enterprise"] == "河池燃气" and entries[0].at_ms == 10
    assert entries[1].before is not None and entries[1].after is not None
    assert (entries[1].before["password_changed_ms"], entries[1].after["password_changed_ms"]) == (10, 20)
    assert [e.id for e in audit.recent(db, 2)] == [entries[2].id, entries[1].id]
    first = audit.record(db, "admin", "site.update", "site", 7, {"name": "旧名"}, {"name": "新名"}, "cli", at_ms=1)
    [site] = audit.history(db, "site", "7")
    assert site.id == first and site.before == {"name": "旧名"} and site.after == {"name": "新名"}
    assert "argon2" not in str(audit.recent(db)) and "$" not in str(audit.recent(db))  # no hash ever goes in
    with pytest.raises(ValueError):
        audit.record(db, "", "x", "y", 1, None, None, "cli")


# ---------------------------------------------------------------------- in the store's own transaction


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_use_cases_in_a_stores_transaction_commit_with_it_or_not_at_all(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The web's writes and ``forewarn users`` run a use case in ``run_in_transaction`` of the
    store opened from settings: what it did is there for every other connection once that
    returns, and a refused step takes the whole transaction's work back with it."""
    url = f"sqlite:///{tmp_path / 'forewarn.db'}" if kind == "sqlite" else request.getfixturevalue("pg_dsn")
    store = open_store(url, Catalogue())
    try:
        issued: list[str] = []

        def make(db: Any) -> None:
            create_user(db, "li", PW, Role.CITY_ADMIN, **WHO, **FAST)
            issued.append(issue_api_token(db, "li", **WHO).token)

        store.run_in_transaction(make)

        def make_again(db: Any) -> None:
            create_user(db, "wang", PW, Role.AUDITOR, **WHO, **FAST)
            create_user(db, "li", PW, Role.AUDITOR, **WHO, **FAST)

        with pytest.raises(UserExists):
            store.run_in_transaction(make_again)
        other = _sqlite_connect(tmp_path / "forewarn.db") if kind == "sqlite" else psycopg.connect(url, autocommit=True)
        try:
            assert [u.name for u in list_users(other)] == ["li"]  # wang went with the refused step
            found = user_for_token(other, issued[0], touch=False)
            assert found is not None and found.name == "li"
            assert [e.action for e in audit.recent(other)] == ["token.issue", "user.create"]
        finally:
            other.close()
    finally:
        store.close()
