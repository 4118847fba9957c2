"""``forewarn report daily|monthly|annual``: a region's or an enterprise's report as a file.

The command is a thin caller of the report use case (``forewarn.reports.build``), as the API
and the scheduler are: whoever holds the data directory reaches everything.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.cli.common import UserError, open_store, settings_from
from forewarn.model import ReportKind
from forewarn.reports.build import ReportError, ReportRequest, build_report
from forewarn.reports.period import PeriodError, parse_period
from forewarn.reports.render import format_of, render
from forewarn.store.readers import snapshot

__all__ = ["add_commands", "write_atomically"]

_PERIOD_OPTION = {ReportKind.DAILY: ("--day", "YYYY-MM-DD", "the local day, e.g. 2026-10-05"),
                  ReportKind.MONTHLY: ("--month", "YYYY-MM", "the month, e.g. 2026-10"),
                  ReportKind.ANNUAL: ("--year", "YYYY", "the year, e.g. 2026")}


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", help="daily, monthly and annual reports (XLSX or printable HTML)",
                       description="A region's report (the region and each district under it as rows) or an "
                       "enterprise's (the enterprise and each of its sites), as XLSX or HTML by the output's "
                       "extension, e.g. forewarn report monthly --region 140200 --month 2026-10 -o report.xlsx")
    rsub = p.add_subparsers(dest="report_kind", metavar="KIND", required=True)
    for kind, (option, metavar, help_text) in _PERIOD_OPTION.items():
        k = rsub.add_parser(kind.value, parents=[common], help=f"the {kind.value} report")
        who = k.add_mutually_exclusive_group(required=True)
        who.add_argument("--region", metavar="CODE", help="a region's GB/T 2260 code, e.g. 140200")
        who.add_argument("--enterprise", metavar="ID", type=_enterprise_id, help="an enterprise's id")
        k.add_argument(option, dest="period", metavar=metavar, required=True, help=help_text)
        k.add_argument("-o", "--output", type=Path, metavar="FILE",
                       help="the file to write, .xlsx or .html (default: KIND-SUBJECT-PERIOD.xlsx here)")
        k.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of titles and headers")
        k.set_defaults(handler=report_cmd, kind=kind)


def _enterprise_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"an enterprise is named by its id (a number), not {text!r}")
    return int(text)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over: a reader (or a
    listing) never sees half a report."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def report_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    kind: ReportKind = args.kind
    try:
        period = parse_period(kind, args.period, settings.tz)
    except PeriodError as exc:
        raise UserError(f"{_PERIOD_OPTION[kind][0]}: {exc}") from None
    output: Path | None = args.output
    try:
        fmt = format_of(output) if output is not None else "xlsx"
    except ValueError as exc:
        raise UserError(f"-o: {exc}") from None
    if output is not None and output.is_dir():
        raise UserError(f"-o: {output} is a directory; name a file in it, e.g. {output / 'report.xlsx'}")
    request = ReportRequest(period, region=args.region, enterprise=args.enterprise)
    if not settings.db_path.exists():
        raise UserError(f"no forewarn data in {settings.data_dir} (give --data DIR)")
    with open_store(settings) as store:
        try:
            report = snapshot(lambda db: build_report(db, Scope(Role.CITY_ADMIN), request,
                                                      now_ms=int(time.time() * 1000), settings=settings,
                                                      lang=args.lang, catalogue=store.catalogue))(store.db)
        except ReportError as exc:
            raise UserError(str(exc)) from None
    if output is None:
        output = Path(f"{report.file_stem()}.xlsx")
    write_atomically(output, render(report, fmt, args.lang))
    print(f"wrote {output} ({report.title.pick(args.lang)}, {len(report.sections)} sections)")
    return 0
