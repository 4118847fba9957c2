"""Settings: one typed object, read from an optional TOML file, with defaults and help text.

Each setting is declared once, with its help, so that ``forewarn.toml`` can be checked
(unknown keys are a user's mistake and get one clear line) and documented from the same place.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ConfigError", "Settings", "load_settings"]


class ConfigError(Exception):
    """A mistake in the settings file or options, worded for the person who made it."""


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = _setting(Path("forewarn-data"), "directory holding the database and logs")
    timezone: str = _setting(
        "Asia/Shanghai", "time zone of the devices' clocks (HJ 212 times are local)"
    )
    hj212_host: str = _setting("0.0.0.0", "address the HJ 212 TCP server listens on")
    hj212_port: int = _setting(8212, "port of the HJ 212 TCP server")
    idle_timeout_s: float = _setting(
        600.0, "close a device connection silent for this long (devices reconnect)"
    )
    max_frame_bytes: int = _setting(
        8192, "largest frame accepted; a peer sending more without a frame end is cut off"
    )
    max_garbage_bytes: int = _setting(
        4096, "close a connection after this many bytes that belong to no frame"
    )
    batch_max_rows: int = _setting(20000, "most readings committed in one transaction")
    future_tolerance_s: float = _setting(
        86400.0, "refuse data whose DataTime is further than this ahead of the platform's clock"
    )
    quarantine_max_packets: int = _setting(
        200000, "most packets kept for unregistered devices; beyond it they are refused"
    )
    offline_after_intervals: float = _setting(
        3.0, "a device is offline when silent for this many reporting intervals"
    )
    registry_poll_s: float = _setting(
        2.0, "how often a running server looks for registry changes made by other commands"
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "forewarn.db"

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: str(f.metadata["help"]) for f in fields(cls)}


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file (if any), then command-line overrides that are not None."""
    values: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        known = Settings.help()
        for key, value in _flatten(raw).items():
            if key not in known:
                raise ConfigError(
                    f"config file {path}: unknown setting '{key}' (known: {', '.join(known)})"
                )
            values[key] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings()
    types = {f.name: f.type for f in fields(Settings)}
    for key, value in values.items():
        values[key] = _coerce(key, value, str(types[key]))
    settings = replace(settings, **values)
    try:
        settings.tz  # noqa: B018 - validate the time zone name now, not at first use
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone '{settings.timezone}'") from exc
    return settings


def _flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """Allow both flat keys and one level of [sections] in the TOML file."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _coerce(key: str, value: Any, type_name: str) -> Any:
    try:
        if type_name == "Path":
            return Path(value)
        if type_name == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if type_name == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting '{key}' must be {type_name}, not {value!r}") from exc
