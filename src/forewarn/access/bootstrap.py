"""The first start: an administrator, so that someone can log in."""

from __future__ import annotations

import sqlite3

from forewarn.access.passwords import random_password
from forewarn.access.roles import Role
from forewarn.access.tx import atomic
from forewarn.access.users import create_user

__all__ = ["ADMIN", "ensure_admin"]

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
