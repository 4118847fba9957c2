"""The forwarding file: where data goes upward (the provincial platform, a city above).

``forward.toml`` holds ``[[target]]`` tables::

    [[target]]
    name = "province"              # how status and logs name it
    protocol = "hj212"             # "hj212" (TCP, each frame answered 9014) or "http" (forewarn JSON)
    host = "10.1.2.3"
    port = 8212
    password = "123456"            # PW in the frames it receives
    st = "31"                      # ST in the frames (default: 31, air pollution source)
    regions = ["451200"]           # whose data: region codes (a city takes its districts)...
    sites = [12, 13]               # ... and/or site ids, and/or MNs (none of the three: everything)
    mns = ["451202A1FE00000000000001"]
    factors = ["a34002", "a34004"] # which factor codes (empty: all)
    kinds = ["rtd", "minute"]      # which kinds of data (empty: all)
    mn_map = { "451202A1FE00000000000001" = "45120200000000000000A1FE" }   # MN as the target knows it

    # protocol = "http": url = "https://upper.example/api/v1/ingest", token = "..." (a bearer token)

Read once at start; every mistake is collected and raised as one :class:`ForwardConfigError`
naming the file and the target, so a wrong file stops the platform with words, not silence.
A missing file means no targets.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forewarn.config import ConfigError
from forewarn.model import Kind

__all__ = ["ForwardConfigError", "Target", "load_targets"]

_KEYS = {"name", "protocol", "host", "port", "password", "st", "regions", "sites", "mns", "factors", "kinds",
         "mn_map", "url", "token", "window", "timeout_s"}


class ForwardConfigError(ConfigError):
    """A settings mistake like any other: the command says it in one line and stops."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path}: " + ("; ".join(problems)))


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    protocol: str
    host: str = ""
    port: int = 0
    password: str = ""
    st: str = "31"
    regions: tuple[str, ...] = ()
    sites: tuple[int, ...] = ()
    mns: tuple[str, ...] = ()
    factors: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ()
    mn_map: dict[str, str] = field(default_factory=dict)
    url: str = ""
    token: str = ""
    #: frames sent before the first of them is answered
    window: int = 8
    #: seconds to wait for an answer before the connection is given up and made again
    timeout_s: float = 10.0

    def where(self) -> str:
        return f"{self.host}:{self.port}" if self.protocol == "hj212" else self.url


def _strings(value: Any, key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{where}: {key} is a list of texts")
        return ()
    return tuple(value)


def _target(raw: dict[str, Any], n: int, problems: list[str]) -> Target | None:
    where = f"target {raw.get('name', n)!r}"
    unknown = set(raw) - _KEYS
    if unknown:
        problems.append(f"{where}: unknown key {', '.join(sorted(unknown))} (known: {', '.join(sorted(_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"target {n}: give it a name")
        return None
    protocol = raw.get("protocol", "hj212")
    if protocol not in ("hj212", "http"):
        problems.append(f"{where}: protocol is hj212 or http, not {protocol!r}")
        return None
    before = len(problems)
    host, port = raw.get("host", ""), raw.get("port", 0)
    if protocol == "hj212" and (not isinstance(host, str) or not host or not isinstance(port, int)
                                or not 0 < port < 65536):
        problems.append(f"{where}: an hj212 target needs host and port (1-65535)")
    url = raw.get("url", "")
    if protocol == "http" and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        problems.append(f"{where}: an http target needs url = \"http(s)://.../api/v1/ingest\"")
    kinds: list[Kind] = []
    for k in _strings(raw.get("kinds", []), "kinds", where, problems):
        try:
            kinds.append(Kind(k))
        except ValueError:
            problems.append(f"{where}: kind {k!r} is none of {', '.join(x.value for x in Kind)}")
    sites = raw.get("sites", [])
    if not isinstance(sites, list) or not all(isinstance(s, int) for s in sites):
        problems.append(f"{where}: sites is a list of site ids")
        sites = []
    mn_map = raw.get("mn_map", {})
    if not isinstance(mn_map, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                               for k, v in mn_map.items()):
        problems.append(f"{where}: mn_map maps MNs to MNs (texts)")
        mn_map = {}
    window, timeout = raw.get("window", 8), raw.get("timeout_s", 10.0)
    if not isinstance(window, int) or not 1 <= window <= 256:
        problems.append(f"{where}: window is 1 to 256 frames")
    if not isinstance(timeout, int | float) or timeout <= 0:
        problems.append(f"{where}: timeout_s is a number of seconds")
    password, st, token = raw.get("password", ""), raw.get("st", "31"), raw.get("token", "")
    if not all(isinstance(v, str) for v in (password, st, token)):
        problems.append(f"{where}: password, st and token are texts")
    if len(problems) > before:
        return None
    return Target(name, protocol, host, port, password, st,
                  _strings(raw.get("regions", []), "regions", where, problems), tuple(sites),
                  _strings(raw.get("mns", []), "mns", where, problems),
                  _strings(raw.get("factors", []), "factors", where, problems), tuple(kinds), dict(mn_map),
                  url, token, window, float(timeout))


def load_targets(path: Path) -> list[Target]:
    if not path.is_file():
        return []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ForwardConfigError(path, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    extra = set(raw) - {"target"}
    if extra:
        problems.append(f"unknown table {', '.join(sorted(extra))} (only [[target]])")
    targets = [t for n, item in enumerate(raw.get("target", []), 1)
               if (t := _target(item, n, problems) if isinstance(item, dict) else None) is not None]
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        problems.append("two targets share a name")
    if problems:
        raise ForwardConfigError(path, problems)
    return targets
