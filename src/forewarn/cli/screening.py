"""``forewarn screening``: run the screening for doubtful data, list findings, confirm or dismiss one.

The use cases are :mod:`forewarn.stats.screening`, as for the API and the dashboard. The
command acts with the whole platform in reach (it runs on the server's own machine, as the
other administrative commands do) and as ``--by`` (else ``$FOREWARN_USER``, else the login).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.cli.common import UserError, actor_name, open_store, parse_time, settings_from
from forewarn.stats import screening
from forewarn.stats.screening import ScreeningError

__all__ = ["add_commands"]

_SCOPE = Scope(Role.CITY_ADMIN)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("screening", help="screen for doubtful data; list, confirm or dismiss findings")
    ssub = p.add_subparsers(dest="screening_command", metavar="ACTION", required=True)
    r = ssub.add_parser("run", parents=[common], help="screen a window now (default: yesterday)",
                        description="Run every check (constant value, physically impossible, dust drop below "
                        "neighbours, clock drift, repeated packets) over [--from, --to) and keep the findings. "
                        "Thresholds: data/screening.csv, overridden by screening.csv in the data directory.")
    r.add_argument("--from", dest="from_", metavar="TIME", help="start (ISO 8601; default: yesterday 00:00)")
    r.add_argument("--to", metavar="TIME", help="end (ISO 8601; default: today 00:00)")
    r.add_argument("--by", help="who runs it (default $FOREWARN_USER or the login name)")
    r.set_defaults(handler=run_cmd)
    ls = ssub.add_parser("list", parents=[common], help="findings, newest first")
    ls.add_argument("--state", help="open, confirmed or dismissed (comma-separated; default: all)")
    ls.add_argument("--kind", help="kinds (comma-separated)")
    ls.add_argument("--site", type=int, metavar="ID", help="one site")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true", help="each finding with its evidence as one JSON line")
    ls.set_defaults(handler=list_cmd)
    for name, helptext in (("confirm", "confirm a finding: its data is marked invalid in audit"),
                           ("dismiss", "dismiss a finding as sound data (--note says why)")):
        d = ssub.add_parser(name, parents=[common], help=helptext)
        d.add_argument("finding", type=int, metavar="ID")
        d.add_argument("--note", default="", help="why" + (" (required)" if name == "dismiss" else ""))
        d.add_argument("--by", help="who judges it (default $FOREWARN_USER or the login name)")
        d.set_defaults(handler=decide_cmd, decision=name)


def _user_error(exc: ScreeningError) -> UserError:
    return UserError(exc.detail)


def run_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tz = settings.tz
    now = int(time.time() * 1000)
    start, end = parse_time(args.from_, tz, "--from"), parse_time(args.to, tz, "--to")
    if start is None or end is None:
        day = screening.day_window(now, tz)
        start, end = start if start is not None else day[0], end if end is not None else day[1]
    with open_store(settings) as store:
        try:
            result = screening.run_here(store.db, scope=_SCOPE, from_ms=start, to_ms=end, actor=actor_name(args.by),
                                        data_dir=settings.data_dir, tz=tz, now_ms=now)
        except ScreeningError as exc:
            raise _user_error(exc) from None
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.by_kind.items())) or "nothing doubtful"
    print(f"screened {result.start} to {result.end}: {result.found} findings ({result.new} new): {kinds}")
    return 0


def _split(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def list_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        try:
            page = screening.list_findings(store.db, _SCOPE, settings.tz, states=_split(args.state),
                                           kinds_=_split(args.kind), site_id=args.site, limit=max(1, args.limit))
        except ScreeningError as exc:
            raise _user_error(exc) from None
    for f in page.findings:
        if args.json:
            print(json.dumps({"id": f.id, "kind": f.kind, "state": f.state, "site": f.site, "mn": f.mn,
                              "point": f.point, "start": f.start, "end": f.end, "summary": f.summary_en,
                              "evidence": f.evidence, "decided_by": f.decided_by, "note": f.decision_note,
                              "audit_mark_id": f.audit_mark_id}, ensure_ascii=False))
            continue
        judged = f" by {f.decided_by}" if f.decided_by else ""
        print(f"{f.id:>6}  {f.state:<9}{judged}  {f.kind:<14} {f.start} .. {f.end}  {f.summary_en}")
    if not args.json:
        print(f"{len(page.findings)} of {page.total} findings")
    return 0


def decide_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    use_case = screening.confirm if args.decision == "confirm" else screening.dismiss
    with open_store(settings) as store:
        box: list[screening.FindingView] = []
        try:
            store.run_in_transaction(lambda db: box.append(use_case(
                db, args.finding, actor=actor_name(args.by), scope=_SCOPE, note=args.note, origin="cli",
                now_ms=int(time.time() * 1000), tz=settings.tz)))
        except ScreeningError as exc:
            raise _user_error(exc) from None
    f = box[0]
    mark = f" (audit mark {f.audit_mark_id})" if f.audit_mark_id else ""
    print(f"finding {f.id} {f.state} by {f.decided_by}{mark}")
    return 0
