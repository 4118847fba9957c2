"""Topic layouts: what an MQTT message's topic and payload mean. Pure: a message in, readings out.

Each layout is registered by name (``LAYOUTS``), and settings name the layout of each topic
filter, so a new kind of device is one more entry here, not a special case in the adapters:

- ``forewarn``: forewarn's own JSON batch of one device, topic ``forewarn/{MN}/readings``,
  payload ``{"readings": [{"code", "field", "kind", "ts", "value", "flag"}, ...]}`` (each may
  repeat its ``mn``, which must then be the topic's); the same fields as ``POST /api/v1/ingest``.
- ``thingsboard``: ThingsBoard's device API, ``v1/devices/me/telemetry``, the payload as over
  HTTP. The device is the one whose access token logged in (the MQTT user name), so this
  layout works only on forewarn's own listener: through a broker, a subscriber cannot see who
  published.
- ``thingsboard_gateway``: ThingsBoard's gateway API, ``v1/gateway/telemetry``, many devices
  through one connection: ``{"MN": [{"ts": ..., "values": {...}}], ...}``. Devices are named by
  their MN.
- ``hj212``: an HJ 212 frame as the payload (some data units carry them over MQTT); judged
  exactly as on the TCP port.

A message's devices that the registry does not know are kept in quarantine as they came (the
part of the payload that is theirs), and claimed as HJ 212 packets are (:func:`replay`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from forewarn.protocols.http.telemetry import PayloadError, TelemetryRows, batch_rows, thingsboard_rows

__all__ = ["LAYOUTS", "Decoded", "Layout", "decode", "layout_of", "replay"]


@dataclass(slots=True)
class Decoded:
    """What a message carries: readings by MN, or HJ 212 frames; and each MN's own part."""

    rows: TelemetryRows = field(default_factory=TelemetryRows)
    #: each MN's part of the payload as JSON bytes, kept in quarantine when the MN is unknown
    parts: dict[str, bytes] = field(default_factory=dict)
    hj212: bytes | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    #: the topic filter it answers by default
    default_filter: str
    #: whether the device is the one logged in (so it works only on forewarn's own listener)
    needs_login: bool
    #: (topic, parsed JSON or raw bytes, the logged-in device's MN or None, now, latest) -> Decoded
    decode: Callable[[str, Any, str | None, int, int], Decoded]
    #: whether the payload is JSON (parsed before ``decode``) or raw bytes
    json: bool = True


def _json_part(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _forewarn(topic: str, payload: Any, login: str | None, now_ms: int, latest_ms: int) -> Decoded:
    levels = topic.split("/")
    mn = levels[1] if len(levels) == 3 and levels[0] == "forewarn" and levels[2] == "readings" else ""
    if not mn:
        raise PayloadError(f"topic {topic!r}: forewarn's layout is forewarn/{{MN}}/readings")
    if not isinstance(payload, dict) or not isinstance(payload.get("readings"), list):
        raise PayloadError('send {"readings": [{"code", "field", "kind", "ts", "value", "flag"}]}')
    readings = []
    for i, r in enumerate(payload["readings"]):
        if isinstance(r, dict):
            if r.get("mn", mn) != mn:
                raise PayloadError(f"readings[{i}]: mn {r.get('mn')!r} is not the topic's {mn}")
            r = {**r, "mn": mn}
        readings.append(r)
    return Decoded(batch_rows({"readings": readings}, latest_ms), {mn: _json_part(payload)})


def _thingsboard(topic: str, payload: Any, login: str | None, now_ms: int, latest_ms: int) -> Decoded:
    if login is None:
        raise PayloadError("ThingsBoard's device API names the device by its login: connect to forewarn's listener")
    if payload == {} or payload == []:  # what ThingsBoard accepts as nothing
        return Decoded()
    return Decoded(thingsboard_rows(payload, login, now_ms, latest_ms), {login: _json_part(payload)})


def _gateway(topic: str, payload: Any, login: str | None, now_ms: int, latest_ms: int) -> Decoded:
    if not isinstance(payload, dict):
        raise PayloadError('send {"MN": [{"ts": ..., "values": {...}}], ...} (ThingsBoard gateway telemetry)')
    out = Decoded()
    for mn, entries in payload.items():
        if not isinstance(mn, str) or not mn or len(mn) > 64:
            raise PayloadError("each device of a gateway message is named by its MN (at most 64 characters)")
        part = thingsboard_rows(entries, mn, now_ms, latest_ms)
        for key, rows in part.rows.items():
            out.rows.rows.setdefault(key, []).extend(rows)
        out.rows.problems += part.problems
        out.parts[mn] = _json_part({mn: entries})
    return out


def _hj212(topic: str, payload: Any, login: str | None, now_ms: int, latest_ms: int) -> Decoded:
    return Decoded(hj212=bytes(payload))


LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (
        Layout("forewarn", "forewarn/+/readings", False, _forewarn),
        Layout("thingsboard", "v1/devices/me/telemetry", True, _thingsboard),
        Layout("thingsboard_gateway", "v1/gateway/telemetry", False, _gateway),
        Layout("hj212", "hj212/#", False, _hj212, json=False),
    )
}


def decode(layout: Layout, topic: str, payload: bytes, login: str | None, now_ms: int, latest_ms: int) -> Decoded:
    """The message's content; raises PayloadError when it cannot be read at all."""
    if not layout.json:
        return layout.decode(topic, payload, login, now_ms, latest_ms)
    try:
        parsed = json.loads(payload) if payload.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the payload is not JSON ({exc})") from None
    return layout.decode(topic, parsed, login, now_ms, latest_ms)


def layout_of(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown MQTT layout {name!r}: use one of {', '.join(sorted(LAYOUTS))}") from None


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT's filter rule: ``+`` one level, ``#`` the rest."""
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(wanted):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(wanted) == len(levels)


#: quarantine's format of a message part, by layout: ``mqtt:<layout>``
def quarantine_format(layout: Layout) -> str:
    return f"mqtt:{layout.name}"


def replay(fmt: str, raw: bytes, mn: str, now_ms: int, latest_ms: int) -> TelemetryRows:
    """The readings of a quarantined message part, now that its MN is registered."""
    name = fmt.removeprefix("mqtt:")
    layout = layout_of(name)
    if name == "forewarn":
        return decode(layout, f"forewarn/{mn}/readings", raw, None, now_ms, latest_ms).rows
    if name == "thingsboard":
        return decode(layout, "v1/devices/me/telemetry", raw, mn, now_ms, latest_ms).rows
    return decode(layout, "v1/gateway/telemetry", raw, None, now_ms, latest_ms).rows
