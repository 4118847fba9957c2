"""The notification file: which channels exist, which notices go to which, and how to retry.

``notify.toml`` holds ``[[channel]]`` tables (where a notice can go), ``[[route]]`` tables
(which notices go where, by level, region and event) and an optional ``[delivery]`` table
(backoff and give-up). It is read once at start; every mistake in it is collected and raised as
one :class:`NotifyConfigError` naming the file, the table and its line, so that a bad file
stops the platform with a message its owner can act on instead of dropping alarms silently.
A missing file means no channels: nothing is queued and nothing is sent.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify.channel_config import ChannelConfig, read_channel
from forewarn.alarms.notify.policy import DeliveryPolicy
from forewarn.alarms.notify.tables import TableReader, header_lines

__all__ = ["DEFAULT_EVENTS", "EVENTS", "NotifyConfig", "NotifyConfigError", "Route", "load_notify_config"]

#: Every event an alarm notice can tell of (see AlarmNotice.event).
EVENTS = ("fired", "escalated", "cleared", "acknowledged", "dispatched", "checked", "resolved",
          "closed", "overdue")
#: What a route sends when it names no events: what someone must act on now.
DEFAULT_EVENTS = ("fired", "escalated", "overdue")


class NotifyConfigError(Exception):
    """The notification file is wrong; the message names the file and every mistake in it."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            message = f"{path}: {len(problems)} mistakes:\n" + "\n".join(f"  - {p}" for p in problems)
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Route:
    """Notices matching every condition given go to ``channels``; an absent condition matches all."""

    channels: tuple[str, ...]
    levels: frozenset[int] | None = None
    region_prefixes: tuple[str, ...] | None = None
    events: frozenset[str] = frozenset(DEFAULT_EVENTS)

    def matches(self, notice: AlarmNotice) -> bool:
        if notice.event not in self.events:
            return False
        if self.levels is not None and notice.level not in self.levels:
            return False
        return self.region_prefixes is None or notice.region_code.startswith(self.region_prefixes)


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """The notification file, read and checked."""

    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    path: Path | None = None

    def channels_for(self, notice: AlarmNotice) -> list[str]:
        """Names of the channels ``notice`` goes to, each once, in the order routes name them."""
        names: dict[str, None] = {}
        for route in self.routes:
            if route.matches(notice):
                names.update(dict.fromkeys(route.channels))
        return list(names)


def load_notify_config(path: Path) -> NotifyConfig:
    """Read and check ``path``; a missing file is an empty configuration (no channels)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return NotifyConfig(path=path)
    except UnicodeDecodeError as exc:
        raise NotifyConfigError(path, [f"is not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    except OSError as exc:
        raise NotifyConfigError(path, [f"cannot be read: {exc.strerror or exc}"]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotifyConfigError(path, [f"is not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    config = _read(data, text, problems)
    if problems:
        raise NotifyConfigError(path, problems)
    return NotifyConfig(config.channels, config.routes, config.delivery, path)


def _tables(
    data: dict[str, Any], key: str, text: str, problems: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Each ``[[key]]`` table with the words that say where it is: ``[[key]] #2 (line 14)``."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.append(f"'{key}' must be written as [[{key}]] tables")
        return []
    lines = header_lines(text, key)
    found = []
    for index, table in enumerate(value):
        line = f" (line {lines[index]})" if len(lines) == len(value) else ""
        found.append((f"[[{key}]] #{index + 1}{line}", table))
    return found


def _read(data: dict[str, Any], text: str, problems: list[str]) -> NotifyConfig:
    for key in data:
        if key not in ("channel", "route", "delivery"):
            problems.append(f"unknown top-level key '{key}' (expected [[channel]], [[route]] and [delivery])")

    channels: dict[str, ChannelConfig] = {}
    broken: set[str] = set()  # named channels too wrong to use: routes naming them are not wrong too
    for where, table in _tables(data, "channel", text, problems):
        name = table.get("name")
        label = f"{where} \"{name}\"" if isinstance(name, str) and name else where
        channel = read_channel(TableReader(table, label, problems))
        if channel is None:
            broken.add(str(name))
            continue
        if channel.name in channels:
            problems.append(f"{label}: another [[channel]] is already named \"{channel.name}\"")
            continue
        channels[channel.name] = channel

    routes = []
    for where, table in _tables(data, "route", text, problems):
        route = _read_route(TableReader(table, where, problems), channels, broken)
        if route is not None:
            routes.append(route)

    delivery = DeliveryPolicy()
    raw = data.get("delivery", {})
    if not isinstance(raw, dict):
        problems.append("'delivery' must be a [delivery] table")
    else:
        delivery = _read_delivery(TableReader(raw, "[delivery]", problems))
    return NotifyConfig(channels, tuple(routes), delivery)


def _read_route(r: TableReader, channels: dict[str, ChannelConfig], broken: set[str]) -> Route | None:
    names = r.texts("channels", required=True)
    levels = r.integers("levels", 1, 4)
    prefixes = r.texts("region_prefixes", required=False)
    for prefix in prefixes or []:
        if not prefix.isdigit() or len(prefix) > 12:
            r.problem(f"region prefix \"{prefix}\" must be leading digits of a division code, e.g. \"4512\"")
    events = r.texts("events", required=False)
    for event in events or []:
        if event not in EVENTS:
            r.problem(f"event \"{event}\" is not one of {', '.join(EVENTS)}")
    r.check_unknown()
    for name in names or []:
        if name not in channels and name not in broken:
            known = ", ".join(f'"{n}"' for n in channels) or "none"
            r.problem(f"channel \"{name}\" is not defined by any [[channel]] (defined: {known})")
    if names is None:
        return None
    return Route(
        channels=tuple(dict.fromkeys(names)),
        levels=frozenset(levels) if levels is not None else None,
        region_prefixes=tuple(prefixes) if prefixes is not None else None,
        events=frozenset(events) if events is not None else frozenset(DEFAULT_EVENTS),
    )


def _read_delivery(r: TableReader) -> DeliveryPolicy:
    d = DeliveryPolicy()
    initial = r.number("backoff_initial_s", d.backoff_initial_s, 0, 86400)
    most = r.number("backoff_max_s", d.backoff_max_s, 0, 7 * 86400)
    if most < initial:
        r.problem(f"'backoff_max_s' ({most:g}) is less than 'backoff_initial_s' ({initial:g})")
    policy = DeliveryPolicy(
        backoff_initial_s=initial,
        backoff_max_s=most,
        give_up_after_s=r.number("give_up_after_s", d.give_up_after_s, 0, 30 * 86400),
        max_attempts=r.integer("max_attempts", d.max_attempts, 1, 100000),
        per_channel_concurrency=r.integer("per_channel_concurrency", d.per_channel_concurrency, 1, 64),
    )
    r.check_unknown()
    return policy
