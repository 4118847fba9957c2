"""``forewarn store migrate``: move an embedded installation into PostgreSQL, with a progress bar.

The work is :func:`forewarn.store.transfer.transfer`; this module reads the two URLs, shows
the progress (rich, on stderr, only on a terminal), prints the verification, and turns what
a user can get wrong (a URL, a platform still running, a target holding other data, a lost
connection) into one line. Interrupted (Ctrl-C, a crash, a lost connection), the same command
resumes where the copy stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from forewarn.cli.common import UserError, settings_from
from forewarn.store.transfer import DEFAULT_CHUNK_ROWS, Observer, TransferError, TransferReport, transfer

__all__ = ["add_bench", "add_commands", "parse_source", "parse_target"]

#: the machine's PostgreSQL (every development and CI machine runs it)
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/test"


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("store", help="the store: move an embedded installation to PostgreSQL")
    ssub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    m = ssub.add_parser("migrate", parents=[common],
                        help="copy every table of a SQLite installation into an empty PostgreSQL, resumably, "
                             "and verify it")
    m.add_argument("--from", dest="from_", metavar="URL",
                   help="the embedded store, sqlite:///PATH (default: the data directory's forewarn.db)")
    m.add_argument("--to", required=True, metavar="URL", help="the target, postgresql://USER@HOST:PORT/DB")
    m.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, metavar="N",
                   help=f"rows per committed chunk (default {DEFAULT_CHUNK_ROWS:,})")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(handler=migrate_cmd)


def add_bench(bsub: Any, common: argparse.ArgumentParser) -> None:
    """``forewarn bench migrate`` (registered by the bench command's parser)."""
    b = bsub.add_parser("migrate", parents=[common],
                        help="rows/s of 'forewarn store migrate' on a 10-million-reading installation")
    b.add_argument("--readings", type=int, default=10_000_000, help="minute readings (default 10 million)")
    b.add_argument("--to", default=LOCAL_PG, metavar="URL",
                   help=f"the PostgreSQL to copy into, in a fresh schema dropped after (default {LOCAL_PG})")
    b.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, metavar="N",
                   help=f"rows per committed chunk (default {DEFAULT_CHUNK_ROWS:,})")
    b.add_argument("--compare-overlap", action="store_true",
                   help="also copy without reading ahead while writing, and print both")
    b.add_argument("--keep", type=Path, metavar="DIR", help="build the installation into DIR once and reuse it")
    b.set_defaults(handler=bench_migrate_cmd)


def bench_migrate_cmd(args: argparse.Namespace) -> int:
    from forewarn.bench.migrate import run_migrate_bench

    if args.readings < 1 or args.chunk_rows < 1:
        raise UserError("--readings and --chunk-rows must be at least 1")
    return run_migrate_bench(readings=args.readings, to=parse_target(args.to), chunk_rows=args.chunk_rows,
                             keep=args.keep, compare_overlap=args.compare_overlap)


def parse_source(url: str) -> Path:
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise UserError(f"--from must be sqlite:///PATH (sqlite:////abs/path/forewarn.db), not {url!r}")
    return Path(url[len("sqlite:///"):])


def parse_target(url: str) -> str:
    if not url.startswith(("postgresql://", "postgres://")):
        raise UserError(f"--to must be postgresql://USER@HOST:PORT/DB, not {url!r}")
    return url


class _Bar(Observer):
    """The transfer's progress as one rich bar over every row, named after the table copied."""

    def __init__(self, progress: Progress, *, shown: bool) -> None:
        self.progress = progress
        self.shown = shown
        self.task: TaskID | None = None

    def phase(self, text: str) -> None:
        if not self.shown:
            return
        if self.task is None:
            self.progress.console.print(f"[dim]{text} ...[/dim]")
        else:
            self.progress.update(self.task, description=text)

    def start(self, totals: dict[str, int], copied: dict[str, int]) -> None:
        self.task = self.progress.add_task("copying", total=sum(totals.values()), completed=sum(copied.values()))

    def advance(self, table: str, rows: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=rows, description=f"copying {table}")


def migrate_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    source = parse_source(args.from_) if args.from_ else settings.db_path
    target = parse_target(args.to)
    if args.chunk_rows < 1:
        raise UserError(f"--chunk-rows must be at least 1, not {args.chunk_rows}")
    console = Console(stderr=True)
    columns = (TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    try:
        shown = not args.quiet and console.is_terminal
        with Progress(*columns, console=console, disable=not shown) as progress:
            report = transfer(source, target, chunk_rows=args.chunk_rows, observer=_Bar(progress, shown=shown))
    except TransferError as exc:
        raise UserError(str(exc)) from None
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"PostgreSQL: {first} (run the same command again: the copy resumes where it stopped)") \
            from None
    except KeyboardInterrupt:
        print("forewarn: interrupted; run the same command again: the copy resumes where it stopped", file=sys.stderr)
        return 130
    _print_report(report)
    return 0


def _print_report(report: TransferReport) -> None:
    if report.already_done:
        print(f"already done: the target holds a verified copy of {report.source}; nothing copied")
        if report.changed_since:
            print(f"warning: the source has changed since the copy (tables {', '.join(report.changed_since)}); "
                  f"what changed is not in the target")
        return
    if report.migrations:
        first, last = report.migrations[0], report.migrations[-1]
        print(f"applied {len(report.migrations)} PostgreSQL migrations ({first} .. {last})")
    rate = report.rows_copied / report.copy_seconds if report.copy_seconds > 0 else 0.0
    how = "resumed: " if report.resumed else ""
    print(f"{how}copied {report.rows_copied:,} rows in {report.copy_seconds:.1f} s ({rate:,.0f} rows/s)")
    print(f"{'table':<24} {'source rows':>12} {'target rows':>12}  check")
    for check in report.checks:
        sums = "" if check.source.checksum is None else "  rows, point ids, times and values summed: equal"
        print(f"{check.table:<24} {check.source.rows:>12,} {check.target.rows:>12,}  ok{sums}")
    total = sum(c.source.rows for c in report.checks)
    print(f"verified: {len(report.checks)} tables, {total:,} rows, equal in source and target")
