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


#: The demo's accounts, one per role below the administrator, on the seed fleet's registry.
#: Their password is public on purpose: they exist only in a demo's data directory.
DEMO_PASSWORD = "forewarn-demo"
DEMO_ACCOUNTS = (
    ("hechi", Role.DISTRICT_ADMIN, "451200", ""),
    ("datong", Role.DISTRICT_ADMIN, "140200", ""),
    ("gasco", Role.ENTERPRISE_USER, "", "河池市液化石油气公司"),
    ("auditor", Role.AUDITOR, "", ""),
)


def ensure_demo_accounts(db: sqlite3.Connection) -> list[str]:
    """Create the demo accounts that are missing; one line per account, for the demo to print."""
    lines = []
    for name, role, region, enterprise in DEMO_ACCOUNTS:
        if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None:
            enterprise_id = None
            if enterprise:
                row = db.execute("SELECT id FROM enterprises WHERE name = ?", (enterprise,)).fetchone()
                if row is None:
                    continue
                enterprise_id = int(row[0])
            create_user(db, name, DEMO_PASSWORD, role, region_code=region or None, enterprise_id=enterprise_id,
                        actor="forewarn", origin="demo")
        reach = region or enterprise or "all sites, read-only"
        lines.append(f"  {name:<8} {role.value:<16} {reach}")
    return lines
