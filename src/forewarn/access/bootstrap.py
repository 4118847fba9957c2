"""The first start: an administrator, so that someone can log in."""

from __future__ import annotations

import sqlite3

from forewarn.access.passwords import random_password
from forewarn.access.roles import Role
from forewarn.access.tx import atomic
from forewarn.access.users import create_user

__all__ = ["ADMIN", "DEMO_ACCOUNTS", "DEMO_PASSWORD", "ensure_admin", "ensure_demo_accounts"]

ADMIN = "admin"


def ensure_admin(db: sqlite3.Connection, *, origin: str = "bootstrap") -> str | None:
    """If there is no user at all, create ``admin`` (city administrator) with a random password
    and return the one line to print; otherwise None. Atomic (commits outside a transaction);
    two processes starting at once create one administrator."""
    password = random_password()
    with atomic(db):
        if db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
            return None
        create_user(db, ADMIN, password, Role.CITY_ADMIN, actor="forewarn", origin=origin)
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


def ensure_demo_accounts(db: sqlite3.Connection) -> list[str]:
    """Create the demo accounts that are missing; one line per account (name, role, what it
    sees), for the demo to print."""
    lines = []
    for name, role, region, enterprise, sees in DEMO_ACCOUNTS:
        if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
            enterprise_id = None
            if enterprise:
                row = db.execute("SELECT id FROM enterprises WHERE name = ?", (enterprise,)).fetchone()
                if row is None:
                    continue
                enterprise_id = int(row[0])
            create_user(db, name, DEMO_PASSWORD, role, region_code=region or None, enterprise_id=enterprise_id,
                        actor="forewarn", origin="demo")
        reach = f"{region} " if region else ""
        lines.append(f"  {name:<14} {role.value:<16} {reach}{sees}")
    return lines
