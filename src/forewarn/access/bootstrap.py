"""The first start: an administrator, so that someone can log in."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from forewarn.access.errors import UserExists
from forewarn.access.passwords import random_password
from forewarn.access.roles import Role
from forewarn.access.users import create_user
from forewarn.store.users import users_repository

if TYPE_CHECKING:
    from forewarn.store.atomic import Db

__all__ = ["ADMIN", "DEMO_ACCOUNTS", "DEMO_PASSWORD", "ensure_admin", "ensure_demo_accounts"]

ADMIN = "admin"


def ensure_admin(db: Db, *, origin: str = "bootstrap") -> str | None:
    """If there is no user at all, create ``admin`` (city administrator) with a random password
    and return the one line to print; otherwise None. Atomic (commits outside a transaction);
    two processes starting at once create one administrator (on SQLite the second waits for
    the write lock and then sees a user; on PostgreSQL the second's insert finds the name
    taken)."""
    password = random_password()
    repo = users_repository(db)
    try:
        with repo.atomic():
            if repo.has_users():
                return None
            create_user(db, ADMIN, password, Role.CITY_ADMIN, actor="forewarn", origin=origin)
    except UserExists:
        return None
    return (
        f"首次启动：已创建管理员 {ADMIN}，初始密码 {password}，请登录后修改 / "
        f"first start: administrator {ADMIN} created, password {password} — change it after logging in"
    )


#: The demo's accounts, one per role and reach, on the seed fleet's registry: (name, role, region
#: code, enterprise, what it sees). A city administrator cannot be bound to one city (it is the
#: whole platform's), so each city's bureau is a regional administrator (district_admin) of the
#: city's code. Their password is public on purpose: they exist only in a demo's data directory.
DEMO_PASSWORD = "forewarn-demo"
DEMO_ACCOUNTS = (
    ("city", Role.CITY_ADMIN, "", "", "the whole platform: both cities, users, quarantine"),
    ("hechi-city", Role.DISTRICT_ADMIN, "451200", "", "河池市 Hechi city bureau: all its counties"),
    ("datong-city", Role.DISTRICT_ADMIN, "140200", "", "大同市 Datong city bureau: all its districts"),
    ("jinchengjiang", Role.DISTRICT_ADMIN, "451202", "", "金城江区 Jinchengjiang district of Hechi"),
    ("pingcheng", Role.DISTRICT_ADMIN, "140213", "", "平城区 Pingcheng district of Datong"),
    ("gasco", Role.ENTERPRISE_USER, "", "河池市液化石油气公司", "河池市液化石油气公司's sites only"),
    ("auditor", Role.AUDITOR, "", "", "everything, read-only but for data audit"),
)


def ensure_demo_accounts(db: Db) -> list[str]:
    """Create the demo accounts that are missing; one line per account (name, role, what it
    sees), for the demo to print."""
    repo = users_repository(db)
    lines = []
    for name, role, region, enterprise, sees in DEMO_ACCOUNTS:
        if repo.user(name) is None:
            enterprise_id = None
            if enterprise:
                enterprise_id = repo.enterprise_named(enterprise)
                if enterprise_id is None:
                    continue
            with suppress(UserExists):  # another process made it meanwhile: it is there, as wanted
                create_user(db, name, DEMO_PASSWORD, role, region_code=region or None, enterprise_id=enterprise_id,
                            actor="forewarn", origin="demo")
        reach = f"{region} " if region else ""
        lines.append(f"  {name:<14} {role.value:<16} {reach}{sees}")
    return lines
