"""The roles a forewarn process can take: what ``forewarn serve --role`` names.

A city runs one process with every role (``all``: the platform as it always was). A province
splits them so that each part grows on its own: many **ingest** processes behind one address
(devices are what grows), one or two **web** processes, one **rules** worker and the **notify**
dispatcher. The words live here, once, so the CLI, the platform and the docs agree on them and
a mistyped role is one clear line rather than a process that silently does less.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALL", "Role", "RoleError", "describe", "not_ported", "parse_roles", "reuse_port"]


class Role(StrEnum):
    """One part of the platform a process may run."""

    #: the device adapters (HJ 212 TCP, MQTT, Modbus), the pipeline and the writer
    INGEST = "ingest"
    #: the rule engine, alarms and their timers, and the installation's single duties (camera
    #: snapshots, forwarding upward, retention, the figures' day keeper, the daily screening)
    RULES = "rules"
    #: the HTTP API (HTTP ingest included), the dashboard, the live stream, scheduled reports
    WEB = "web"
    #: the notification dispatcher (webhook, e-mail, SMS)
    NOTIFY = "notify"


#: every role: one process is the whole platform
ALL: frozenset[Role] = frozenset(Role)

#: what each role needs that only the embedded store offers today (its SQL is SQLite's)
_SQLITE_ONLY: dict[Role, str] = {
    Role.RULES: "the rule engine's catalogue and state, alarms and their timers, cameras, forwarding, "
                "retention, the day keeper and the screening",
    Role.WEB: "the HTTP API's queries, the live feed and the reports",
}


class RoleError(ValueError):
    """A ``--role`` the platform does not know, worded for the person who typed it."""


def parse_roles(text: str) -> frozenset[Role]:
    """``ingest``, ``web,notify``, ``all`` ... as the set of roles; a mistake raises RoleError."""
    words = [w.strip().lower() for w in text.split(",")]
    if not any(words):
        raise RoleError("--role needs at least one of ingest, rules, web, notify or all")
    roles: set[Role] = set()
    for word in words:
        if word == "all":
            roles |= ALL
        elif word in Role._value2member_map_:
            roles.add(Role(word))
        else:
            raise RoleError(f"--role {word!r} is not a role; choose from ingest, rules, web, notify, all "
                            "(several with commas: ingest,web)")
    return frozenset(roles)


def describe(roles: frozenset[Role]) -> str:
    """The roles as the user would write them (``all`` for every one)."""
    return "all" if roles == ALL else ",".join(r.value for r in Role if r in roles)


def not_ported(roles: frozenset[Role], store_url: str) -> str | None:
    """Why these roles cannot run on this store yet (None: they can).

    Ingest (HJ 212) and notify run on PostgreSQL so far; rules and web still read and write
    with SQLite's SQL. Saying so at start, in one line, beats a process that fails at its first query."""
    if not store_url.startswith(("postgresql://", "postgres://")):
        return None
    missing = [r for r in Role if r in roles and r in _SQLITE_ONLY]
    if not missing:
        return None
    what = "; ".join(f"{r.value}: {_SQLITE_ONLY[r]}" for r in missing)
    return (f"role {', '.join(r.value for r in missing)} cannot run on a PostgreSQL store yet (ingest and notify "
            f"are ported; not yet: {what}); run them with the embedded store, or --role ingest,notify on PostgreSQL")


def reuse_port(setting: int, roles: frozenset[Role]) -> bool:
    """Whether the HJ 212 listener shares its port with other processes (SO_REUSEPORT).

    ``setting`` -1 (auto) turns it on for a scale-mode process (not every role), where several
    ingest processes on one machine are the point; off for ``all``, so that a second embedded
    platform started by mistake fails with "address in use" instead of silently taking half the
    devices into another data directory."""
    if setting >= 0:
        return bool(setting)
    return Role.INGEST in roles and roles != ALL
