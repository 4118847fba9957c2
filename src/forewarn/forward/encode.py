"""Outbox rows to what a target receives. Pure.

HJ 212: the rows of one device, kind and time become one frame (CN by kind, the device's MN
as the target knows it, the target's PW and ST, Flag=5: 2017 version, answer wanted), with a
correct length and CRC; a frame that would pass the standard's 9999-byte limit is split by
factor. HTTP: forewarn's own JSON batch (``POST /api/v1/ingest``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import count
from zoneinfo import ZoneInfo

from forewarn.model import KIND_BY_CN, Kind
from forewarn.protocols.hj212.codec import Frame, encode

__all__ = ["OutboxRow", "frames_of", "json_batch"]

CN_BY_KIND = {kind: cn for cn, kind in KIND_BY_CN.items()}
_MAX_SEGMENT = 9000  # below the 4-digit length field's 9999, with room for the header
_qn_serial = count()


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    device_id: int
    mn: str
    kind: str
    ts: int
    code: str
    field: str
    value: float | None
    flag: str


@dataclass(frozen=True, slots=True)
class OutFrame:
    qn: str
    data: bytes
    last_id: int  # the last outbox row this frame carries: answered, everything up to it is delivered
    rows: int


def _value(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def _qn(now_ms: int, tz: ZoneInfo) -> str:
    """17 digits (yyyyMMddHHmmssSSS) made unique within a sender by the last digits' serial."""
    moment = datetime.fromtimestamp(now_ms / 1000, tz)
    return moment.strftime("%Y%m%d%H%M%S") + f"{next(_qn_serial) % 1000:03d}"


def frames_of(rows: list[OutboxRow], *, mn_map: dict[str, str], password: str, st: str, tz: ZoneInfo,
              now_ms: int) -> list[OutFrame]:
    """Consecutive rows of one device, kind and time make one frame (or several when large)."""
    out: list[OutFrame] = []
    group: list[OutboxRow] = []

    def flush() -> None:
        if not group:
            return
        first = group[0]
        kind = Kind(first.kind)
        stamp = datetime.fromtimestamp(first.ts / 1000, tz).strftime("%Y%m%d%H%M%S")
        factors: dict[str, dict[str, str]] = {}
        for r in group:
            subs = factors.setdefault(r.code, {})
            subs[r.field] = _value(r.value)
            if kind is not Kind.STATUS and kind is not Kind.RUNTIME:
                subs.setdefault("Flag", r.flag)
                subs["Flag"] = subs.pop("Flag")  # Flag last, as devices write it
        parts: list[dict[str, dict[str, str]]] = [{}]
        size = 0
        for code, subs in factors.items():
            length = sum(len(code) + len(k) + len(v) + 3 for k, v in subs.items())
            if size + length > _MAX_SEGMENT and parts[-1]:
                parts.append({})
                size = 0
            parts[-1][code] = subs
            size += length
        # the group's rows count as delivered with its last frame only: the parts before it say
        # nothing new is delivered (were the link to drop between parts, all are sent again)
        done_before = group[0].id - 1
        for n, part in enumerate(parts, 1):
            frame = Frame(st=st, cn=CN_BY_KIND[kind], mn=mn_map.get(first.mn, first.mn), qn=_qn(now_ms, tz),
                          pw=password, flag=5, params={"DataTime": stamp}, factors=part)
            values = sum(len(subs) - ("Flag" in subs) for subs in part.values())
            out.append(OutFrame(frame.qn or "", encode(frame), group[-1].id if n == len(parts) else done_before,
                                values))
        group.clear()

    for row in rows:
        if group and (row.device_id, row.kind, row.ts) != (group[0].device_id, group[0].kind, group[0].ts):
            flush()
        group.append(row)
    flush()
    return out


def json_batch(rows: list[OutboxRow], mn_map: dict[str, str]) -> dict[str, object]:
    return {"readings": [{"mn": mn_map.get(r.mn, r.mn), "code": r.code, "field": r.field, "kind": r.kind,
                          "ts": r.ts, "value": r.value, "flag": r.flag} for r in rows]}
