"""The ``forewarn`` command: argument parsing and the one place user mistakes become one line.

Each sub-command lives in a module of this package; this module builds the parser, loads the
settings, and turns the errors a user can cause (a bad option, a missing file, a sheet with
mistakes, a port in use) into ``forewarn: error: ...`` and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from forewarn import __version__
from forewarn.alarms.notify import NotifyConfigError
from forewarn.alarms.workflow import AlarmError
from forewarn.bus.base import BusUnavailable
from forewarn.cli import alarms, audit, cameras, forward, query, regions, registry, report, run, screening, stats, users
from forewarn.cli import modbus as modbus_cli
from forewarn.cli import store as store_cli
from forewarn.cli.common import UserError
from forewarn.config import ConfigError
from forewarn.registry.files import RegistryFileError
from forewarn.rules.emergency import CalendarError
from forewarn.rules.files import RuleFileError
from forewarn.store.sqlite import StoreError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with where to look), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        print(f"forewarn: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def _add_common(parser: argparse.ArgumentParser, default: object) -> argparse.ArgumentParser:
    parser.add_argument(
        "--data", type=Path, default=default, metavar="DIR",
        help="data directory (default ./forewarn-data)",
    )
    parser.add_argument(
        "--config", type=Path, default=default, metavar="FILE",
        help="settings file (default ./forewarn.toml if it exists)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log more detail")
    return parser


def build_parser() -> argparse.ArgumentParser:
    # The options every command takes go before the command (forewarn --data DIR status) or
    # after it (forewarn status --data DIR). After it they win; their default is SUPPRESS so
    # that a sub-command's parser never overwrites a value given before it with None.
    common = _add_common(_Parser(add_help=False), argparse.SUPPRESS)
    parser = _Parser(
        prog="forewarn",
        description="Online monitoring and early warning for regulators.",
    )
    _add_common(parser, None)
    parser.set_defaults(verbose=False)
    parser.add_argument("--version", action="version", version=f"forewarn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run.add_commands(sub, common)
    registry.add_commands(sub, common)
    regions.add_commands(sub, common)
    query.add_commands(sub, common)
    alarms.add_commands(sub, common)
    audit.add_commands(sub, common)
    users.add_commands(sub, common)
    cameras.add_commands(sub, common)
    report.add_commands(sub, common)
    stats.add_commands(sub, common)
    screening.add_commands(sub, common)
    forward.add_commands(sub, common)
    modbus_cli.add_commands(sub, common)
    store_cli.add_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        result: int = args.handler(args)
        return result
    except (UserError, ConfigError, StoreError, RegistryFileError, RuleFileError, NotifyConfigError,
            CalendarError, AlarmError, BusUnavailable) as exc:
        print(f"forewarn: error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        print(f"forewarn: error: the database cannot be used: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `forewarn readings ... | head`
        return 0
    except OSError as exc:  # a path that is a directory, a folder that does not exist ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"forewarn: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2

