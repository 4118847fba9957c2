"""``forewarn users``: add, list, change passwords, disable and enable users, issue API tokens.

Every change is written to the audit log with the actor ($FOREWARN_USER or the login name) and
origin ``cli``. Passwords are read with a prompt (twice), or from the first line of standard
input with ``--password-stdin`` (for scripts); they are never taken on the command line.
Each command runs its use case (``forewarn.access.users``) in one transaction of the store's,
whichever store it is; a password is hashed before that transaction begins (argon2id takes a
tenth of a second or more, and the embedded store's write lock is held for the transaction).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from forewarn.access.errors import AccessError
from forewarn.access.passwords import check_policy, hash_password
from forewarn.access.roles import Role
from forewarn.access.users import (
    DEFAULT_TOKEN_DAYS,
    create_user,
    disable_user,
    enable_user,
    find_enterprise,
    get_user,
    issue_api_token,
    list_api_tokens,
    list_users,
    revoke_api_token,
    set_password_hash,
)
from forewarn.cli.common import UserError, actor_name, iso, open_store, settings_from

__all__ = ["add_commands"]

ORIGIN = "cli"
_T = TypeVar("_T")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("users", help="users of the platform: add, list, passwd, disable, enable, token")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    stdin = argparse.ArgumentParser(add_help=False)
    stdin.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input (no prompt)")

    add = usub.add_parser("add", parents=[common, stdin], help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--region", metavar="CODE", help="the region a district administrator (or auditor) sees")
    add.add_argument("--enterprise", metavar="NAME", help="the enterprise an enterprise user belongs to")
    add.set_defaults(handler=add_cmd)

    ls = usub.add_parser("list", parents=[common], help="list users (never their passwords)")
    ls.add_argument("--format", default="text", choices=["text", "json"])
    ls.set_defaults(handler=list_cmd)

    pw = usub.add_parser("passwd", parents=[common, stdin], help="set a user's password")
    pw.add_argument("name")
    pw.set_defaults(handler=passwd_cmd)

    for action, text in (("disable", "disable a user (no login, no API token)"), ("enable", "enable a user again")):
        d = usub.add_parser(action, parents=[common], help=text)
        d.add_argument("name")
        d.set_defaults(handler=disable_cmd, enable=action == "enable")

    tok = usub.add_parser("token", parents=[common], help="issue an API token for a user (printed once)")
    tok.add_argument("name")
    tok.add_argument("--label", default="", metavar="TEXT", help="what the token is for")
    tok.add_argument("--days", type=float, default=DEFAULT_TOKEN_DAYS, metavar="N",
                     help=f"the token ends after N days (default {DEFAULT_TOKEN_DAYS}; 0: only when revoked)")
    tok.set_defaults(handler=token_cmd)
    toks = usub.add_parser("tokens", parents=[common], help="list API tokens (never the tokens themselves)")
    toks.add_argument("name", nargs="?", help="only this user's")
    toks.set_defaults(handler=tokens_cmd)
    rev = usub.add_parser("revoke", parents=[common], help="revoke an API token by its id (see 'users tokens')")
    rev.add_argument("token_id", type=int)
    rev.set_defaults(handler=revoke_cmd)


def _password(args: argparse.Namespace, name: str) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise UserError("--password-stdin: standard input held no password")
    else:
        password = getpass.getpass(f"password for {name}: ")
        _policy(password)  # before asking again
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ; nothing changed")
    _policy(password)
    return password


def _policy(password: str) -> None:
    try:
        check_policy(password)
    except AccessError as exc:
        raise UserError(str(exc)) from None


def _with_store(args: argparse.Namespace, work: Callable[[Any], _T]) -> _T:
    """``work(db)`` in one transaction of the store's (``db``: its connection, of either store)."""
    store = open_store(settings_from(args), create=True)
    box: list[_T] = []
    try:
        store.run_in_transaction(lambda db: box.append(work(db)))
    except AccessError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    return box[0]


def add_cmd(args: argparse.Namespace) -> int:
    hashed = hash_password(_password(args, args.name))

    def work(db: Any) -> str:
        enterprise_id = find_enterprise(db, args.enterprise) if args.enterprise else None
        user = create_user(db, args.name, "", args.role, region_code=args.region, enterprise_id=enterprise_id,
                           actor=actor_name(), origin=ORIGIN, password_hash=hashed)
        reach = user.region_code or user.enterprise or ""
        return f"user {user.name} added ({user.role}{' ' + reach if reach else ''})"

    print(_with_store(args, work))
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    users = _with_store(args, list_users)
    tz = settings.tz
    if args.format == "json":
        for user in users:
            row = user.public()
            row["created"] = iso(row.pop("created_ms"), tz)
            row["password_changed"] = iso(row.pop("password_changed_ms"), tz)
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not users:
        print("no users (the first 'forewarn serve' or 'forewarn demo' creates an administrator)")
    for user in users:
        reach = user.region_code or user.enterprise or "-"
        state = "disabled" if user.disabled else "active"
        print(f"{user.name:<20} {user.role:<16} {reach:<20} {state:<8} "
              f"password changed {iso(user.password_changed_ms, tz)}")
    return 0


def passwd_cmd(args: argparse.Namespace) -> int:
    # Say "no such user" before asking for a password nobody will use.
    _with_store(args, lambda db: _must_exist(db, args.name))
    hashed = hash_password(_password(args, args.name))
    _with_store(args, lambda db: set_password_hash(db, args.name, hashed, actor=actor_name(), origin=ORIGIN))
    print(f"password of {args.name} changed")
    return 0


def _must_exist(db: Any, name: str) -> None:
    if get_user(db, name) is None:
        raise UserError(f"no user named {name!r} (see 'forewarn users list')")


def disable_cmd(args: argparse.Namespace) -> int:
    change = enable_user if args.enable else disable_user
    changed = _with_store(args, lambda db: change(db, args.name, actor=actor_name(), origin=ORIGIN))
    state = "enabled" if args.enable else "disabled"
    print(f"user {args.name} {state}" if changed else f"user {args.name} was already {state}")
    return 0


def token_cmd(args: argparse.Namespace) -> int:
    if args.days < 0:
        raise UserError("--days must be 0 (until revoked) or more")
    issued = _with_store(
        args, lambda db: issue_api_token(db, args.name, args.label, actor=actor_name(), origin=ORIGIN,
                                         days=args.days or None)
    )
    ends = f", valid {args.days:g} days" if args.days else ", valid until revoked"
    print(f"API token {issued.id} for {args.name} (shown once{ends}; send it as 'Authorization: Bearer TOKEN'):",
          file=sys.stderr)
    print(issued.token)
    return 0


def tokens_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tokens = _with_store(args, lambda db: list_api_tokens(db, args.name))
    if not tokens:
        print("no API tokens")
    for t in tokens:
        used = f"last used {iso(t.last_used_ms, settings.tz)}" if t.last_used_ms else "never used"
        expired = t.expires_ms is not None and t.expires_ms <= time.time() * 1000
        state = "revoked" if t.revoked else "expired" if expired else "active"
        created = iso(t.created_ms, settings.tz)
        ends = f", ends {iso(t.expires_ms, settings.tz)}" if t.expires_ms else ""
        print(f"{t.id:>5}  {t.user:<16} {t.name or '-':<20} {state:<8} created {created}, {used}{ends}")
    return 0


def revoke_cmd(args: argparse.Namespace) -> int:
    done = _with_store(args, lambda db: revoke_api_token(db, args.token_id, actor=actor_name(), origin=ORIGIN))
    print(f"API token {args.token_id} revoked" if done else f"API token {args.token_id} was already revoked")
    return 0
