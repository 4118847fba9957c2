"""``forewarn stats figures | rankings | refresh-days``: the figures at the command line.

The same use case as ``GET /api/v1/stats/figures`` (``stats.figures``), read as the city
administrator (the command line is the operator's). ``refresh-days`` computes and keeps the
finished days' online and running times (``stats.runtime``) that make a month's figures fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any

import msgspec

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.cli.common import UserError, open_store, parse_time, settings_from
from forewarn.config import Settings
from forewarn.rules.loader import build_catalog, load_effective_rules
from forewarn.sites.view import RulesInForce
from forewarn.stats.figures import (
    FigureRow,
    FiguresError,
    PeriodName,
    check_region,
    figures,
    figures_by,
    parse_window,
    ranking_districts,
    ranking_enterprises,
)
from forewarn.stats.runtime import catalogue_view, local_midnight, refresh_days
from forewarn.store.sqlite import SqliteStore
from forewarn.times import iso

__all__ = ["add_commands"]

_ALL = Scope(Role.CITY_ADMIN)
_PERIODS = ["day", "month", "year"]


def _window_options(p: argparse.ArgumentParser) -> None:
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--day", metavar="YYYY-MM-DD", help="one local day")
    when.add_argument("--month", metavar="YYYY-MM", help="one local month")
    when.add_argument("--year", metavar="YYYY", help="one local year")
    p.add_argument("--region", metavar="CODE", help="a region code: its sites and those under it")


def add_commands(ssub: Any, common: argparse.ArgumentParser) -> None:
    """Add the figures' actions to ``forewarn stats`` (its sub-parsers)."""
    f = ssub.add_parser("figures", parents=[common], help="transmission, validity, online, exceedance ... rates")
    _window_options(f)
    f.add_argument("--by", default="site", choices=["site", "enterprise", "region"],
                   help="one row per site, enterprise or region (with --region: the regions directly under it)")
    f.add_argument("--per", choices=_PERIODS, help="each row's period (default: the window's own length)")
    f.add_argument("--format", default="text", choices=["text", "json", "csv"])
    f.set_defaults(handler=figures_cmd)

    r = ssub.add_parser("rankings", parents=[common],
                        help="districts by effective transmission rate, enterprises by exceedances")
    _window_options(r)
    r.add_argument("--format", default="text", choices=["text", "json"])
    r.set_defaults(handler=rankings_cmd)

    d = ssub.add_parser("refresh-days", parents=[common],
                        help="compute and keep the finished days' online and running times (fast month figures)")
    d.add_argument("--since", metavar="ISO", help="from this day on (default: 40 days ago)")
    d.add_argument("--again-from", metavar="ISO", help="compute the days from this one again (late data)")
    d.set_defaults(handler=refresh_cmd)


def _rules(settings: Settings, store: SqliteStore) -> RulesInForce:
    if not settings.rules_enabled:
        return None
    return load_effective_rules(settings.rules_path), build_catalog(*store.rule_context(), Catalogue())


def _window(args: argparse.Namespace, settings: Settings) -> tuple[str, str, int, int]:
    text = args.day or args.month or args.year
    try:
        length, start, end = parse_window(text, settings.tz)
    except FiguresError as exc:
        raise UserError(str(exc)) from None
    expected = "day" if args.day else "month" if args.month else "year"
    if length != expected:
        form = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[expected]
        raise UserError(f"--{expected} {text}: write a {expected} as {form}")
    return text, length, start, end


def _now_ms() -> int:
    return int(time.time() * 1000)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def figures_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    text, length, start, end = _window(args, settings)
    per: PeriodName = args.per or length  # type: ignore[assignment]  # argparse's choices
    if _PERIODS.index(per) > _PERIODS.index(length):
        raise UserError(f"--per {per} is longer than the window {text}")
    with open_store(settings) as store:
        try:
            check_region(store.db, _ALL, args.region)
        except FiguresError as exc:
            raise UserError(str(exc)) from None
        rows = figures(store.db, _ALL, by=args.by, region=args.region, start_ms=start, end_ms=end, period=per,
                       now_ms=_now_ms(), settings=settings, rules=_rules(settings, store), catalogue=store.catalogue)
    if args.format == "json":
        print(json.dumps(msgspec.to_builtins(rows), ensure_ascii=False, indent=2))
        return 0
    if args.format == "csv":
        _csv(rows)
        return 0
    if not rows:
        print(f"no {args.by} in {args.region or 'any region'}")
        return 0
    print(f"{'':30} {'period':10} {'trans.':>8} {'valid.':>8} {'effect.':>8} {'netw.':>8} {'online':>8} "
          f"{'on-time':>8} {'exceed':>6} {'x limit':>7} {'alarms':>6} {'open':>5} {'overdue':>7} {'treat.':>8} "
          f"{'purif.':>8}")
    for r in rows:
        multiple = "-" if r.max_multiple is None else f"{r.max_multiple:.2f}"
        print(f"{r.entity.name[:30]:30} {r.label:10} {_pct(r.transmission_rate):>8} {_pct(r.validity_rate):>8} "
              f"{_pct(r.effective_rate):>8} {_pct(r.networking_rate):>8} {_pct(r.online_rate):>8} "
              f"{_pct(r.online_time_rate):>8} {r.exceedances:>6} {multiple:>7} {r.alarms:>6} {r.alarms_open:>5} "
              f"{r.alarms_overdue:>7} {_pct(r.treatment_run_rate):>8} {_pct(r.purifier_run_rate):>8}")
    return 0


def _csv(rows: list[FigureRow]) -> None:
    w = csv.writer(sys.stdout)
    names = [n for n in FigureRow.__struct_fields__ if n != "entity"]
    w.writerow(["kind", "id", "code", "name", *names])
    for r in rows:
        w.writerow([r.entity.kind, r.entity.id, r.entity.code, r.entity.name, *(getattr(r, n) for n in names)])


def rankings_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    text, length, start, end = _window(args, settings)
    with open_store(settings) as store:
        try:
            check_region(store.db, _ALL, args.region)
        except FiguresError as exc:
            raise UserError(str(exc)) from None
        common: dict[str, Any] = {"region": args.region, "start_ms": start, "end_ms": end, "period": length,
                                  "now_ms": _now_ms(), "settings": settings}
        rows = figures_by(store.db, _ALL, bys=("region", "enterprise"), **common)
        districts, enterprises = ranking_districts(rows["region"]), ranking_enterprises(rows["enterprise"])
    if args.format == "json":
        print(json.dumps(msgspec.to_builtins({"districts": districts, "enterprises": enterprises}),
                         ensure_ascii=False, indent=2))
        return 0
    print(f"{text}: regions by effective transmission rate")
    for d in districts:
        print(f"{d.rank:>4}  {d.row.entity.code or '':12} {d.row.entity.name:24} {_pct(d.value):>8}")
    print(f"{text}: enterprises by exceedances")
    for e in enterprises:
        print(f"{e.rank:>4}  {e.row.entity.name:40} {int(e.value or 0):>6}")
    return 0


def refresh_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    now = _now_ms()
    since = parse_time(args.since, settings.tz, "--since")
    again = parse_time(args.again_from, settings.tz, "--again-from")
    since = local_midnight(now - 40 * 86_400_000, settings.tz) if since is None else since
    with open_store(settings) as store:
        rules = _rules(settings, store)
        view = catalogue_view(settings.tz, settings.offline_after_intervals, store.catalogue, rules)
        store.db.execute("BEGIN IMMEDIATE")  # a running server's writer waits (busy timeout) meanwhile
        try:
            devices, sites = refresh_days(store.db, since_ms=since, now_ms=now, view=view, rules=rules,
                                          recompute_after_ms=again)
            store.db.execute("COMMIT")
        except BaseException:
            store.db.execute("ROLLBACK")
            raise
    print(f"kept {devices} device-days of online time and {sites} site-days of running time since "
          f"{iso(since, settings.tz)}")
    return 0
