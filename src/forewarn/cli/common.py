"""Helpers every sub-command shares: settings from options, time arguments, output."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.catalogue import Catalogue
from forewarn.config import Settings, load_settings
from forewarn.store.sqlite import SqliteStore
from forewarn.times import iso, parse_moment

__all__ = ["UserError", "iso", "open_store", "parse_time", "settings_from"]


class UserError(Exception):
    """A mistake in what the user asked for; printed as one line."""


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    config: Path | None = args.config
    if config is None and Path("forewarn.toml").exists():
        config = Path("forewarn.toml")
    return load_settings(config, data_dir=args.data, **overrides)


def open_store(settings: Settings, *, create: bool = False) -> SqliteStore:
    return SqliteStore(settings.db_path, Catalogue(), create=create)


def parse_time(text: str | None, tz: ZoneInfo, option: str) -> int | None:
    """ISO 8601 date or date-time (or epoch ms) to epoch ms; without an offset, in the devices' zone."""
    if text is None:
        return None
    try:
        return parse_moment(text, tz)
    except ValueError as exc:
        raise UserError(f"{option} {exc}") from None


def actor_name(by: str | None = None) -> str:
    """Who a command acts as, for the audit log and alarm steps: ``--by``, else
    ``$FOREWARN_USER``, else the login name."""
    return by or os.environ.get("FOREWARN_USER") or getpass.getuser()
