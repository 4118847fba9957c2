"""``forewarn audit``: data audit at the command line: mark a range invalid or valid again, end an
open-ended mark, revoke a mark, list marks.

The same use cases as the API's and the dashboard's (:mod:`forewarn.stats.audit`), audited with
origin ``cli``. Whoever runs the command holds the database file and so the whole platform: it
acts with a city administrator's scope, named by ``--by`` (or ``$FOREWARN_USER``, or the login).
A mark made here reaches a running server's live judgement within seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import msgspec

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.cli.common import UserError, actor_name, open_store, parse_time, settings_from
from forewarn.model import AuditReason, MarkTarget
from forewarn.stats import audit
from forewarn.stats.audit import AuditError, mark_view
from forewarn.store import audit_marks
from forewarn.store.audit_marks import MarkFilter

__all__ = ["add_commands"]

_OPERATOR = Scope(Role.CITY_ADMIN)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("audit", help="data audit: mark data invalid or valid again, revoke, list")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument("--by", default=None, metavar="NAME",
                       help="who acts, for the audit log (default $FOREWARN_USER or your login)")

    m = asub.add_parser("mark", parents=[common, actor], help="mark a range of a point, device or site invalid "
                                                              "(or valid again with --valid)")
    what = m.add_mutually_exclusive_group(required=True)
    what.add_argument("--point", metavar="ID|MN/CODE-FIELD", help="one point")
    what.add_argument("--device", metavar="ID|MN", help="every point of a device")
    what.add_argument("--site", metavar="ID", help="every point of a site")
    m.add_argument("--from", dest="from_", required=True, metavar="ISO", help="start of the range")
    m.add_argument("--to", metavar="ISO", help="end of the range, not included (default: open-ended)")
    m.add_argument("--reason", required=True, choices=[r.value for r in AuditReason])
    m.add_argument("--note", default="", help="why, in words (required with --reason manual)")
    m.add_argument("--valid", action="store_true", help="mark the range valid again instead of invalid")
    m.set_defaults(handler=mark_cmd)

    u = asub.add_parser("unmark", parents=[common, actor], help="revoke a mark (its record stays)")
    u.add_argument("id", type=int)
    u.add_argument("--note", required=True, help="why it is revoked")
    u.set_defaults(handler=unmark_cmd)

    e = asub.add_parser("end", parents=[common, actor], help="end an open-ended mark (the maintenance is over)")
    e.add_argument("id", type=int)
    e.add_argument("--at", metavar="ISO", help="when it ends (default now)")
    e.add_argument("--note", default="")
    e.set_defaults(handler=end_cmd)

    ls = asub.add_parser("list", parents=[common], help="marks, newest first")
    ls.add_argument("--site", type=int, metavar="ID")
    ls.add_argument("--point", metavar="ID|MN/CODE-FIELD", help="marks covering this point")
    ls.add_argument("--from", dest="from_", metavar="ISO", help="marks ending after")
    ls.add_argument("--to", metavar="ISO", help="marks starting before")
    ls.add_argument("--active", action="store_true", help="only marks in force (not revoked)")
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--format", default="text", choices=["text", "json"])
    ls.set_defaults(handler=list_cmd)


def _target(args: argparse.Namespace) -> tuple[MarkTarget, str]:
    for kind in MarkTarget:
        given = getattr(args, kind.value, None)
        if given is not None:
            return kind, given
    raise UserError("say what to mark: --point, --device or --site")


def _run(settings: Any, work: Any) -> Any:
    """``work(db)`` in one transaction; a refusal becomes one line."""
    box: list[Any] = []
    with open_store(settings) as store:
        try:
            store.run_in_transaction(lambda db: box.append(work(db)))
        except AuditError as exc:
            raise UserError(exc.detail) from None
    return box[0]


def mark_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tz = settings.tz
    kind, given = _target(args)
    start = parse_time(args.from_, tz, "--from")
    assert start is not None
    end = parse_time(args.to, tz, "--to")

    def work(db: Any) -> int:
        target_id = audit_marks.find_target(db, kind, given)
        if target_id is None:
            raise UserError(f"no {kind} {given} is registered"
                            + (" (give its id or MN/code-field, see 'forewarn registry points')"
                               if kind is MarkTarget.POINT else ""))
        return audit.mark(db, actor=actor_name(args.by), scope=_OPERATOR, target=kind, target_id=target_id,
                          start_ms=start, end_ms=end, valid=args.valid, reason=args.reason, note=args.note,
                          origin="cli", now_ms=int(time.time() * 1000))

    mark_id = _run(settings, work)
    print(f"mark {mark_id}: {kind} {given} {'valid again' if args.valid else 'invalid'} from "
          f"{args.from_} {'to ' + args.to if args.to else 'on (open-ended)'}")
    return 0


def unmark_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    _run(settings, lambda db: audit.revoke(db, actor=actor_name(args.by), scope=_OPERATOR, mark_id=args.id,
                                           note=args.note, origin="cli", now_ms=int(time.time() * 1000)))
    print(f"mark {args.id}: revoked")
    return 0


def end_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    now = int(time.time() * 1000)
    at = parse_time(args.at, settings.tz, "--at")
    _run(settings, lambda db: audit.end(db, actor=actor_name(args.by), scope=_OPERATOR, mark_id=args.id,
                                        end_ms=at if at is not None else now, note=args.note, origin="cli",
                                        now_ms=now))
    print(f"mark {args.id}: ended")
    return 0


def list_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tz = settings.tz
    with open_store(settings) as store:
        point = None
        if args.point is not None:
            point = audit_marks.find_target(store.db, MarkTarget.POINT, args.point)
            if point is None:
                raise UserError(f"no point {args.point} is registered")
        flt = MarkFilter(site_id=args.site, point_id=point, from_ms=parse_time(args.from_, tz, "--from"),
                         to_ms=parse_time(args.to, tz, "--to"), active=True if args.active else None)
        marks = [mark_view(r, tz) for r in audit_marks.page_marks(store.db, _OPERATOR, flt, max(1, args.limit), 0)]
    if args.format == "json":
        for m in marks:
            print(json.dumps(msgspec.to_builtins(m), ensure_ascii=False))
        return 0
    if not marks:
        print("no marks")
    for m in marks:
        state = f"revoked by {m.revoked_by}: {m.revoke_note}" if m.revoked else "in force"
        print(f"#{m.id:<5} {m.target} {m.target_id} ({m.site}) {'VALID' if m.valid else 'INVALID'} "
              f"{m.start} – {m.end or '…'} {m.reason} {m.note!r} by {m.actor}; {state}")
    return 0
