"""Turn HTTP payloads into readings. Pure: parsed JSON in, reading rows and problems out.

Two shapes, for devices and gateways that push over HTTP:

- ThingsBoard's device telemetry (``POST /api/v1/{device_token}/telemetry``), so that devices
  and gateways already speaking it report without change: ``{"key": value, ...}`` (sampled
  now), ``{"ts": <ms>, "values": {...}}``, or a list of those. Keys are HJ 212 names, so that a
  payload and the equivalent HJ 212 packet become the same readings: ``a34002-Rtd`` (or just
  ``a34002``, read as its real-time value) is a value, ``a34002-Flag`` its data flag.
- forewarn's own batch (``POST /api/v1/ingest``): ``{"readings": [{"mn", "code", "field",
  "kind", "ts", "value", "flag"}, ...]}`` with ``ts`` in epoch milliseconds or ISO 8601 with
  an offset, for systems that already know each reading's kind and time.

A value that is not a finite number is refused alone (and reported); the rest is kept. An
empty payload (``{}``, ``[]``, empty ``values``) holds no readings and is not a mistake:
ThingsBoard accepts it, and its device SDK (``TBHTTPDevice.connect``) sends ``{}`` to test the
connection before it sends anything queued.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from forewarn.model import Kind
from forewarn.protocols.hj212.readings import EARLIEST_MS
from forewarn.store.base import ReadingRow

__all__ = ["PayloadError", "TelemetryRows", "batch_rows", "thingsboard_rows"]

_META = frozenset({"Flag", "EFlag", "SampleTime", "SN", "Info"})
#: What a code or sub-field may look like: HJ 212 names are short and plain. Anything else
#: would become a point in the registry, so it is refused rather than discovered.
_NAME = re.compile(r"[A-Za-z0-9_.]{1,32}\Z")
MAX_READINGS = 10_000


class PayloadError(ValueError):
    """The payload as a whole cannot be read; the message says what to send instead."""


@dataclass(slots=True)
class TelemetryRows:
    """Rows per (MN, kind), and the values that were refused with the reason."""

    rows: dict[tuple[str, Kind], list[ReadingRow]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, mn: str, kind: Kind, row: ReadingRow) -> None:
        self.rows.setdefault((mn, kind), []).append(row)

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.rows.values())


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip() and value.isascii() and "_" not in value:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _check_ts(ts: int, latest_ms: int, where: str) -> None:
    if not EARLIEST_MS <= ts <= latest_ms:
        raise PayloadError(f"{where}: ts {ts} is before 2000 or ahead of the platform's clock (epoch milliseconds)")


def thingsboard_rows(payload: Any, mn: str, now_ms: int, latest_ms: int) -> TelemetryRows:
    """Readings of one device from a ThingsBoard telemetry payload (all real-time)."""
    entries = payload if isinstance(payload, list) else [payload]
    out = TelemetryRows()
    for i, entry in enumerate(entries):
        where = f"entry {i}" if isinstance(payload, list) else "telemetry"
        if not isinstance(entry, dict):
            raise PayloadError(f"{where}: expected an object of key: value pairs")
        if not entry:  # ThingsBoard answers {} with 200: its SDK's connect() posts it as a test
            continue
        if "values" in entry or "ts" in entry:
            ts, values = entry.get("ts"), entry.get("values")
            if not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(values, dict):
                raise PayloadError(f"{where}: with \"ts\" send an integer ts (ms) and a \"values\" object")
            _check_ts(ts, latest_ms, where)
        else:
            ts, values = now_ms, entry
        _values(values, mn, ts, out)
    return out


def _values(values: dict[str, Any], mn: str, ts: int, out: TelemetryRows) -> None:
    flags: dict[str, str] = {}
    for key, value in values.items():
        code, _, sub = key.partition("-")
        if sub == "Flag" and isinstance(value, str):
            flags[code] = value
    for key, value in values.items():
        code, dash, sub = key.partition("-")
        field_name = sub if dash and sub else "Rtd"
        if field_name in _META and code:
            continue
        if not _NAME.match(code) or not _NAME.match(field_name):
            out.problems.append(f"{key[:40]!r} is not a factor name (letters, digits, _ or ., at most 32)")
            continue
        if out.count >= MAX_READINGS:
            raise PayloadError(f"more than {MAX_READINGS} values in one request: split it")
        number = _number(value)
        if number is None:
            out.problems.append(f"{key}={str(value)[:40]!r} is not a number")
            continue
        out.add(mn, Kind.RTD, (code, field_name, ts, number, flags.get(code, "N")))


def batch_rows(payload: Any, latest_ms: int) -> TelemetryRows:
    """Readings from forewarn's own batch format (each with its MN, kind and time)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("readings"), list):
        raise PayloadError(
            "send {\"readings\": [{\"mn\", \"code\", \"field\", \"kind\", \"ts\", \"value\", \"flag\"}]}"
        )
    out = TelemetryRows()
    if len(payload["readings"]) > MAX_READINGS:
        raise PayloadError(f"more than {MAX_READINGS} readings in one request: split it")
    for i, r in enumerate(payload["readings"]):
        where = f"readings[{i}]"
        if not isinstance(r, dict):
            raise PayloadError(f"{where}: expected an object")
        mn, code, field_name = r.get("mn"), r.get("code"), r.get("field", "Rtd")
        if not isinstance(mn, str) or not mn or not isinstance(code, str) or not _NAME.match(code):
            raise PayloadError(f"{where}: mn and code are required strings (code: letters, digits, _ or .)")
        if not isinstance(field_name, str) or not _NAME.match(field_name):
            raise PayloadError(f"{where}: field is a sub-field name such as \"Rtd\" or \"Avg\"")
        try:
            kind = Kind(r.get("kind", "rtd"))
        except ValueError:
            raise PayloadError(f"{where}: kind must be one of {', '.join(k.value for k in Kind)}") from None
        ts = _timestamp(r.get("ts"), where)
        _check_ts(ts, latest_ms, where)
        flag = r.get("flag", "N")
        if not isinstance(flag, str) or not 1 <= len(flag) <= 2:
            raise PayloadError(f"{where}: flag is a data flag such as \"N\"")
        number = _number(r.get("value"))
        if number is None:
            out.problems.append(f"{where}: value {str(r.get('value'))[:40]!r} is not a number")
            continue
        out.add(mn, kind, (code, field_name, ts, number, flag))
    return out


def _timestamp(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return int(moment.timestamp() * 1000)
    raise PayloadError(f"{where}: ts must be epoch milliseconds or ISO 8601 with an offset")
