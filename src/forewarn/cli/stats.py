"""``forewarn stats``: forewarn's own minute/hour/day/month values at the command line.

``recompute`` queues a time range (of one site, or all) and computes it here and now with a
progress bar: a backfill after importing history, or after a limit or a validity threshold
changed. It works in pieces as short as a running server's own aggregation jobs, so the two
may run at once. ``mismatches`` lists the periods where devices' own values disagree with ours.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.cli import stats_figures
from forewarn.cli.common import UserError, open_store, parse_time, settings_from
from forewarn.config import Settings
from forewarn.model import Period
from forewarn.rules.loader import build_catalog, load_effective_rules
from forewarn.stats.aggregate import Aggregator, RulesInForce, queue_recompute
from forewarn.stats.mismatches import list_mismatches
from forewarn.store import registry_reads
from forewarn.store.sqlite import SqliteStore
from forewarn.times import iso

__all__ = ["add_commands"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("stats", help="forewarn's own minute, hour, day and month values")
    ssub = p.add_subparsers(dest="stats_command", metavar="ACTION", required=True)

    r = ssub.add_parser("recompute", parents=[common], help="compute a time range's periods again, with a progress bar")
    r.add_argument("--from", dest="from_", required=True, metavar="ISO", help="start (a date is its local midnight)")
    r.add_argument("--to", required=True, metavar="ISO", help="end, not included")
    r.add_argument("--site", type=int, metavar="ID", help="only this site's points")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(handler=recompute_cmd)

    m = ssub.add_parser("mismatches", parents=[common],
                        help="periods where a device's own Avg/Min/Max differs from forewarn's beyond the tolerance")
    m.add_argument("--period", default="hour", choices=[Period.MINUTE.value, Period.HOUR.value, Period.DAY.value])
    m.add_argument("--from", dest="from_", required=True, metavar="ISO")
    m.add_argument("--to", required=True, metavar="ISO", help="end, not included")
    m.add_argument("--site", type=int, metavar="ID")
    m.add_argument("--limit", type=int, default=1000)
    m.add_argument("--format", default="text", choices=["text", "json"])
    m.set_defaults(handler=mismatches_cmd)
    stats_figures.add_commands(ssub, common)  # figures, rankings, refresh-days


def _window(args: argparse.Namespace, settings: Settings) -> tuple[int, int]:
    start = parse_time(args.from_, settings.tz, "--from")
    end = parse_time(args.to, settings.tz, "--to")
    assert start is not None and end is not None
    if end <= start:
        raise UserError(f"--to {args.to} must be after --from {args.from_}")
    return start, end


def _site(store: SqliteStore, site_id: int | None) -> None:
    if site_id is not None and not registry_reads.site_exists(store.db, site_id):
        raise UserError(f"no site {site_id} (forewarn registry export lists them)")


def _rules(settings: Settings, store: SqliteStore) -> RulesInForce:
    """The rules a running server judges by, so that 'over the limit' means the same here."""
    if not settings.rules_enabled:
        return None
    return load_effective_rules(settings.rules_path), build_catalog(*store.rule_context(), Catalogue())


def recompute_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    start, end = _window(args, settings)
    with open_store(settings) as store:
        _site(store, args.site)
        points = queue_recompute(store.db, start, end, args.site)
        rules = _rules(settings, store)
        aggregator = Aggregator(settings, rules=lambda: rules)
        total = max(points * (end - start), 1)
        hours_total = 1
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f} %"),
                      TimeRemainingColumn(), disable=args.quiet or not sys.stderr.isatty(),
                      console=Console(stderr=True)) as bar:
            minutes = bar.add_task(f"minutes of {points} points", total=total)
            hours = bar.add_task("hours, days, months", total=hours_total)

            def show(minutes_left: int, hours_left: int) -> None:
                nonlocal hours_total
                bar.update(minutes, completed=max(total - minutes_left, 0))
                hours_total = max(hours_total, hours_left)  # hours are queued as minutes are done
                bar.update(hours, total=hours_total, completed=hours_total - hours_left)

            aggregator.run_pending(store.db, show)
        written = aggregator.written
    print(f"recomputed {points} points from {iso(start, settings.tz)} to {iso(end, settings.tz)}; rows written: "
          + ", ".join(f"{written[p]} {p.value}s" for p in Period))
    return 0


def mismatches_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    start, end = _window(args, settings)
    with open_store(settings) as store:
        _site(store, args.site)
        found = list_mismatches(store.db, Scope(Role.CITY_ADMIN), settings.tz, Period(args.period), start, end,
                                relative=settings.mismatch_relative, absolute=settings.mismatch_absolute,
                                site_id=args.site, limit=args.limit)
    if args.format == "json":
        print(json.dumps(msgspec.to_builtins(found), ensure_ascii=False, indent=2))
        return 0
    if not found:
        print(f"no {args.period} where a device's own value differs from forewarn's beyond the tolerance "
              f"({settings.mismatch_absolute:g} + {settings.mismatch_relative:.0%})")
        return 0
    print("start                      MN                        factor  field   reported    forewarn")
    for m in found:
        print(f"{m.start:26} {m.mn:25} {m.code:7} {m.field:5} {m.reported:10.4g}  {m.computed:10.4g}")
    return 0
