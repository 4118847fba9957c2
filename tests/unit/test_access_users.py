"""Users, authentication, API and device tokens, the first administrator, and their audit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from forewarn.access import audit
from forewarn.access.bootstrap import ensure_admin
from forewarn.access.errors import AccessError, PasswordPolicyError
from forewarn.access.roles import Role
from forewarn.access.tx import atomic
from forewarn.access.users import (
    authenticate,
    create_user,
    device_for_token,
    disable_user,
    enable_user,
    get_user,
    issue_api_token,
    issue_device_token,
    list_api_tokens,
    list_users,
    revoke_api_token,
    revoke_device_tokens,
    set_password,
    token_hash,
    user_for_token,
)
from tests.unit.test_access_scope import make_registry, visible_sites

PW = "correct-horse-9"
WHO = {"actor": "tester", "origin": "test"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    store = make_registry(tmp_path / "forewarn.db")
    yield store.db
    store.close()


def test_users_by_role_get_their_scope(db: sqlite3.Connection) -> None:
    create_user(db, "city", PW, Role.CITY_ADMIN, **WHO)
    create_user(db, "nandan", PW, "district_admin", region_code="451221", **WHO)
    gas = create_user(db, "河池燃气操作员", PW, Role.ENTERPRISE_USER, enterprise_id=1, **WHO)
    create_user(db, "audit", PW, Role.AUDITOR, region_code="140200", **WHO)
    assert gas.enterprise == "河池燃气" and gas.role is Role.ENTERPRISE_USER
    assert [u.name for u in list_users(db)] == sorted(["city", "nandan", "河池燃气操作员", "audit"])
    seen = {u.name: visible_sites(db, u.scope) for u in list_users(db)}
    assert seen == {"city": {1, 2, 3, 4, 5, 6, 7}, "nandan": {2, 3}, "河池燃气操作员": {1, 2}, "audit": {4, 5}}


@pytest.mark.parametrize(("role", "extra", "message"), [
    (Role.DISTRICT_ADMIN, {}, "needs a region"),
    (Role.DISTRICT_ADMIN, {"region_code": "999999"}, "no region with code '999999'"),
    (Role.ENTERPRISE_USER, {}, "needs an enterprise"),
    (Role.ENTERPRISE_USER, {"enterprise_id": 42}, "no enterprise with id 42"),
    (Role.CITY_ADMIN, {"region_code": "451200"}, "has no region"),
    (Role.ENTERPRISE_USER, {"enterprise_id": 1, "region_code": "451200"}, "has no region"),
    (Role.AUDITOR, {"enterprise_id": 1}, "belongs to no enterprise"),
    ("root", {}, "unknown role 'root'"),
])
def test_mistakes_are_refused_with_one_line(
    db: sqlite3.Connection, role: Role | str, extra: dict[str, object], message: str
) -> None:
    with pytest.raises(AccessError, match=message):
        create_user(db, "someone", PW, role, **extra, **WHO)  # type: ignore[arg-type]
    assert list_users(db) == []
    assert audit.recent(db) == []


def test_names_passwords_and_duplicates(db: sqlite3.Connection) -> None:
    with pytest.raises(PasswordPolicyError, match="at least 10"):
        create_user(db, "a", "short", Role.AUDITOR, **WHO)
    for bad in ("", " lead", "two words", "tab\tname", "x" * 65):
        with pytest.raises(AccessError):
            create_user(db, bad, PW, Role.AUDITOR, **WHO)
    create_user(db, "a", PW, Role.AUDITOR, **WHO)
    with pytest.raises(AccessError, match="already exists"):
        create_user(db, "a", PW, Role.CITY_ADMIN, **WHO)


def test_authenticate(db: sqlite3.Connection) -> None:
    create_user(db, "li", PW, Role.CITY_ADMIN, **WHO)
    user = authenticate(db, "li", PW)
    assert user is not None and user.name == "li"
    assert authenticate(db, "li", PW + "x") is None
    assert authenticate(db, "nobody", PW) is None
    assert disable_user(db, "li", **WHO)
    assert not disable_user(db, "li", **WHO)  # already: no change, no audit entry
    assert authenticate(db, "li", PW) is None
    assert enable_user(db, "li", **WHO)
    assert authenticate(db, "li", PW) is not None
    set_password(db, "li", "a-new-password", **WHO, now_ms=5)
    assert authenticate(db, "li", PW) is None
    li = authenticate(db, "li", "a-new-password")
    assert li is not None and li.password_changed_ms == 5
    with pytest.raises(AccessError, match="no user named 'ghost'"):
        set_password(db, "ghost", PW, **WHO)


def test_an_old_hash_is_replaced_at_login(db: sqlite3.Connection) -> None:
    create_user(db, "old", PW, Role.AUDITOR, **WHO)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PW)
    db.execute("UPDATE users SET password_hash = ? WHERE name = 'old'", (weak,))
    assert authenticate(db, "old", PW) is not None
    stored = db.execute("SELECT password_hash FROM users WHERE name = 'old'").fetchone()[0]
    assert stored != weak and stored.startswith("$argon2id$") and "m=65536" in stored
    assert authenticate(db, "old", PW) is not None


def test_api_tokens_are_shown_once_and_stored_hashed(db: sqlite3.Connection) -> None:
    create_user(db, "client", PW, Role.DISTRICT_ADMIN, region_code="451200", **WHO)
    issued = issue_api_token(db, "client", "大屏", **WHO, now_ms=1_000, days=None)
    assert len(issued.token) >= 43
    stored = db.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert stored == [(token_hash(issued.token),)] and issued.token not in str(stored)
    user = user_for_token(db, issued.token, now_ms=2_000)
    assert user is not None and user.name == "client" and user.scope.region_prefix == "4512"
    assert list_api_tokens(db, "client")[0].last_used_ms == 2_000
    user_for_token(db, issued.token, now_ms=30_000)  # noted at most once a minute
    assert list_api_tokens(db)[0].last_used_ms == 2_000
    assert user_for_token(db, issued.token + "x") is None
    assert user_for_token(db, "") is None
    disable_user(db, "client", **WHO)
    assert user_for_token(db, issued.token) is None  # a disabled user's tokens do not work
    with pytest.raises(AccessError, match="disabled"):
        issue_api_token(db, "client", **WHO)
    enable_user(db, "client", **WHO)
    assert user_for_token(db, issued.token) is not None
    assert revoke_api_token(db, issued.id, **WHO)
    assert not revoke_api_token(db, issued.id, **WHO)
    assert user_for_token(db, issued.token) is None
    assert list_api_tokens(db, "client")[0].revoked


def test_api_tokens_end_after_their_days(db: sqlite3.Connection) -> None:
    create_user(db, "client", PW, Role.CITY_ADMIN, **WHO)
    day = 86_400_000
    issued = issue_api_token(db, "client", **WHO, now_ms=0, days=30)
    assert user_for_token(db, issued.token, now_ms=30 * day - 1) is not None
    assert user_for_token(db, issued.token, now_ms=30 * day) is None
    assert list_api_tokens(db, "client")[0].expires_ms == 30 * day
    forever = issue_api_token(db, "client", **WHO, now_ms=0, days=None)
    assert user_for_token(db, forever.token, now_ms=3650 * day) is not None


def test_device_tokens(db: sqlite3.Connection) -> None:
    first = issue_device_token(db, 3, **WHO)
    second = issue_device_token(db, 3, **WHO)
    assert device_for_token(db, first) == 3 and device_for_token(db, second) == 3
    assert device_for_token(db, "not-a-token") is None
    with pytest.raises(AccessError, match="no device with id 99"):
        issue_device_token(db, 99, **WHO)
    assert revoke_device_tokens(db, 3, **WHO) == 2
    assert device_for_token(db, first) is None
    assert [e.action for e in audit.history(db, "device", 3)] == [
        "device_token.issue", "device_token.issue", "device_token.revoke"]


def test_every_write_is_audited_without_secrets(db: sqlite3.Connection) -> None:
    create_user(db, "张三", PW, Role.ENTERPRISE_USER, enterprise_id=2, actor="admin", origin="cli", now_ms=10)
    set_password(db, "张三", "another-password", actor="admin", origin="cli", now_ms=20)
    disable_user(db, "张三", actor="王五", origin="http")
    entries = audit.history(db, "user", "张三")
    assert [(e.action, e.actor, e.origin) for e in entries] == [
        ("user.create", "admin", "cli"), ("user.password", "admin", "cli"), ("user.disable", "王五", "http")]
    assert entries[0].before is None and entries[0].after is not None
    assert entries[0].after["enterprise"] == "南丹燃气" and entries[0].at_ms == 10
    assert entries[1].before is not None and entries[1].after is not None
    assert (entries[1].before["password_changed_ms"], entries[1].after["password_changed_ms"]) == (10, 20)
    assert (entries[2].before and entries[2].before["disabled"], entries[2].after and entries[2].after["disabled"]) \
        == (False, True)
    raw = " ".join(str(r) for r in db.execute("SELECT before, after FROM audit_log"))
    assert "argon2" not in raw and "张三" in raw  # readable Chinese, no hashes
    assert "\\u" not in raw


def test_audit_record_and_history(db: sqlite3.Connection) -> None:
    first = audit.record(db, "admin", "site.update", "site", 7, {"name": "旧名"}, {"name": "新名"}, "cli", at_ms=1)
    audit.record(db, "admin", "site.update", "site", "8", None, {"name": "其他"}, "cli", at_ms=2)
    [entry] = audit.history(db, "site", "7")
    assert entry.id == first and entry.before == {"name": "旧名"} and entry.after == {"name": "新名"}
    assert db.execute("SELECT after FROM audit_log WHERE id = ?", (first,)).fetchone()[0] == '{"name": "新名"}'
    assert [e.entity_id for e in audit.recent(db)] == ["8", "7"]
    with pytest.raises(ValueError):
        audit.record(db, "", "x", "y", 1, None, None, "cli")


def test_a_failed_step_rolls_back_the_callers_work_only_as_far_as_asked(db: sqlite3.Connection) -> None:
    create_user(db, "keep", PW, Role.AUDITOR, **WHO)
    with atomic(db):
        create_user(db, "inner", PW, Role.AUDITOR, **WHO)
        with pytest.raises(AccessError):
            create_user(db, "keep", PW, Role.AUDITOR, **WHO)  # savepoint rolled back, outer goes on
    assert get_user(db, "inner") is not None
    with pytest.raises(RuntimeError), atomic(db):
        create_user(db, "gone", PW, Role.AUDITOR, **WHO)
        raise RuntimeError("caller fails after the user was made")
    assert get_user(db, "gone") is None
    assert audit.history(db, "user", "gone") == []


def test_first_start_creates_one_administrator(db: sqlite3.Connection) -> None:
    line = ensure_admin(db)
    assert line is not None
    assert line.startswith("首次启动：已创建管理员 admin，初始密码 ") and "first start: administrator admin" in line
    password = line.split("初始密码 ")[1].split("，")[0]
    admin = authenticate(db, "admin", password)
    assert admin is not None and admin.role is Role.CITY_ADMIN
    assert f"password {password} —" in line
    assert ensure_admin(db) is None
    assert [u.name for u in list_users(db)] == ["admin"]
    assert audit.history(db, "user", "admin")[0].origin == "bootstrap"


def test_no_administrator_is_made_when_users_exist(db: sqlite3.Connection) -> None:
    create_user(db, "someone", PW, Role.AUDITOR, **WHO)
    assert ensure_admin(db) is None
    assert get_user(db, "admin") is None
