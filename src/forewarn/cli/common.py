"""Helpers every sub-command shares: settings from options, time arguments, output."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from forewarn.catalogue import Catalogue
from forewarn.config import Settings, load_settings
from forewarn.store.sqlite import SqliteStore

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
    """ISO 8601 date or date-time to epoch ms; without an offset it is in the devices' zone."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)  # also takes a bare date
    except ValueError:
        raise UserError(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-22 or 2026-11-22T08:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp() * 1000)


def iso(ts_ms: int, tz: ZoneInfo) -> str:
    """Epoch ms as ISO 8601 with its offset, in the devices' zone."""
    try:
        return datetime.fromtimestamp(ts_ms / 1000, tz).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # a time no calendar holds: show it raw
        return f"epoch-ms:{ts_ms}"
