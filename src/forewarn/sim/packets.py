"""The packets a simulated device sends at one tick: HJ 212-2017 uploads, framed.

Pure: the device, the instant and its incidents in; segments and frames out. Which commands
go out follows the profile: 2011 real-time data every tick, 2021 facility states every tick
for kitchens, and a 2051 aggregate at the first tick of each aggregation period, covering
the period just ended. Every upload asks for an answer (Flag=5: version 2017, A bit set), as
field devices do, so the shell can count 9014 answers and re-send what was not answered.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from forewarn.protocols.hj212.codec import wrap
from forewarn.protocols.hj212.crc import hj212_crc, modbus_crc, swap_bytes
from forewarn.sim.fleet import SimDevice
from forewarn.sim.incidents import Incident, IncidentKind, active
from forewarn.sim.rhythm import data_time, local_day_ms, qn_of
from forewarn.sim.signals import Values, decimals_of, facility_status, sample

__all__ = ["FLAG_2017_ANSWER", "Packet", "aggregate_due", "render", "render_segments", "segment"]

#: Flag: version bits 1 (HJ 212-2017) and the A bit (answer wanted).
FLAG_2017_ANSWER = 5
_REALTIME, _STATUS, _MINUTE = "2011", "2021", "2051"
#: Samples taken from the value curve to build one aggregate.
_AGGREGATE_SAMPLES = 10
_NOISE_BYTES = bytes(b for b in range(256) if b != ord("#"))
_VALID_CRC_LOW = frozenset({0x00, 0x01, 0x40, 0x41, 0x80, 0x81, 0xC0, 0xC1})


@dataclass(frozen=True, slots=True)
class Packet:
    """One thing to write on the device's connection.

    ``retry_frame`` is what to re-send when no 9014 answer comes (the correct frame, even
    when ``frame`` was deliberately broken); ``None`` means no answer is expected (garbage).
    """

    cn: str
    qn: str
    frame: bytes
    retry_frame: bytes | None

    @property
    def wants_answer(self) -> bool:
        """Whether the shell should wait for a 9014 with this packet's QN."""
        return self.retry_frame is not None


def _num(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def segment(device: SimDevice, cn: str, qn: str, cp: str) -> str:
    """A device upload segment: header in the standard's order, then ``CP=&&...&&``."""
    return (
        f"QN={qn};ST={device.profile.st};CN={cn};PW={device.password};MN={device.mn};"
        f"Flag={FLAG_2017_ANSWER};CP=&&{cp}&&"
    )


def _realtime_cp(device: SimDevice, ms: int, values: Values) -> str:
    items = [f"DataTime={data_time(ms)}"]
    for code, fields in values.items():
        parts = [f"{code}-{f}={_num(v, decimals_of(device, code, f))}" for f, v in fields.items()]
        parts.append(f"{code}-Flag=N")
        items.append(",".join(parts))
    return ";".join(items)


def _status_cp(device: SimDevice, ms: int, incidents: Sequence[Incident]) -> str:
    states = facility_status(device, ms, incidents)
    return ";".join([f"DataTime={data_time(ms)}"] + [f"{sb}-RS={v}" for sb, v in states.items()])


def _circular_mean(degrees: list[float]) -> float:
    s = sum(math.sin(math.radians(d)) for d in degrees)
    c = sum(math.cos(math.radians(d)) for d in degrees)
    return math.degrees(math.atan2(s, c)) % 360


def _aggregate_cp(device: SimDevice, start_ms: int, period_ms: int,
                  incidents: Sequence[Incident]) -> str:
    step = period_ms // _AGGREGATE_SAMPLES
    samples = [sample(device, start_ms + step // 2 + k * step, incidents)
               for k in range(_AGGREGATE_SAMPLES)]
    items = [f"DataTime={data_time(start_ms)}"]
    for code, fields in samples[0].items():
        for field in fields:
            series = [s[code][field] for s in samples]
            spec = device.profile.fields.get(code)
            avg = _circular_mean(series) if spec and spec.wrap == 360 else sum(series) / len(series)
            d = decimals_of(device, code, field)
            items.append(f"{code}-Min={_num(min(series), d)},{code}-Avg={_num(avg, d)},"
                         f"{code}-Max={_num(max(series), d)},{code}-Flag=N")
    return ";".join(items)


def aggregate_due(device: SimDevice, ms: int) -> int | None:
    """Start of the period that just ended if ``ms`` is its first tick after it, else None.

    Periods are aligned to the local clock (every 10 minutes on the :00, :10 ...), and a tick
    is the first of a period when the tick one interval earlier fell in the previous one.
    """
    every = device.profile.aggregate_every_s * 1000
    if every <= 0 or _MINUTE not in device.profile.send:
        return None
    day, in_day = local_day_ms(ms)
    local = day * 86_400_000 + in_day
    if local // every == (local - device.interval_s * 1000) // every:
        return None
    return ms - (local % every) - every


def render_segments(device: SimDevice, ms: int, incidents: Sequence[Incident] = ()) -> list[str]:
    """The data segments the device uploads at the tick ``ms`` (none while it is silent)."""
    if any(active(incidents, ms, IncidentKind.SILENT, device.mn)):
        return []
    segments: list[str] = []
    tick = 0  # QN must differ between the packets of one tick: one millisecond apart

    def add(cn: str, cp: str) -> None:
        nonlocal tick
        segments.append(segment(device, cn, qn_of(ms + tick), cp))
        tick += 1

    send = device.profile.send
    if _REALTIME in send:
        add(_REALTIME, _realtime_cp(device, ms, sample(device, ms, incidents)))
    if _STATUS in send:
        add(_STATUS, _status_cp(device, ms, incidents))
    start = aggregate_due(device, ms)
    if start is not None:
        add(_MINUTE, _aggregate_cp(device, start, device.profile.aggregate_every_s * 1000,
                                   incidents))
    return segments


def _bad_crc_frame(good: bytes) -> bytes:
    """The same frame with a CRC that no known algorithm (HJ 212, Modbus, swapped) produces."""
    body = good[6:-6]
    known = {hj212_crc(body), modbus_crc(body), swap_bytes(modbus_crc(body))}
    wrong = hj212_crc(body) ^ 0x1D0F
    while wrong in known or (wrong & 0xFF) in _VALID_CRC_LOW:
        wrong = (wrong + 0x0123) & 0xFFFF
    return good[:-6] + b"%04X\r\n" % wrong


def _garbage(incident: Incident) -> bytes:
    """Line noise: bytes with no ``#`` in them (so no frame start), ended by CRLF."""
    rng = random.Random(f"{incident.mn}|{incident.start_ms}|garbage")
    noise = bytes(rng.choice(_NOISE_BYTES) for _ in range(rng.randint(8, 48)))
    return noise + b"\r\n"


def render(device: SimDevice, ms: int, incidents: Sequence[Incident] = ()) -> list[Packet]:
    """The framed packets to write at the tick ``ms``, malformed-packet incidents applied.

    A ``bad_crc`` incident breaks the CRC of the first upload; the device then re-sends it
    correctly when no answer comes, as a real one would. A ``garbage`` incident writes line
    noise before the uploads.
    """
    packets: list[Packet] = []
    broken = next(iter(active(incidents, ms, IncidentKind.MALFORMED, device.mn)), None)
    for i, seg in enumerate(render_segments(device, ms, incidents)):
        good = wrap(seg)
        frame = _bad_crc_frame(good) if broken and broken.target == "bad_crc" and i == 0 else good
        packets.append(Packet(cn=seg.split(";CN=", 1)[1][:4], qn=seg[3:20], frame=frame,
                              retry_frame=good))
    if broken is not None and broken.target != "bad_crc" and packets:
        packets.insert(0, Packet(cn="", qn="", frame=_garbage(broken), retry_frame=None))
    return packets
