"""What the platform does with each HJ 212 frame a device sends.

Per frame: parse it; find the device by MN (unknown MNs go to quarantine, kept raw); apply
that device's leniency (the tolerant default unless it or the platform is strict; see
:mod:`.quirks`) and password; turn data uploads into readings; hand the batch to the
pipeline; and answer as the standard asks only once the pipeline says the batch is stored
(9014), or at once where no storage is involved (9013, 1012 time setting, 9011 for a wrong
password, 9011 with QnRtn=9 for a registered device's frame whose CRC is wrong). Nothing
here touches a socket or the database: the connection passes itself in as something that can
``send`` (and ``hold``/``release``: one hold per batch not yet stored, so the connection can
stop reading a peer that sends faster than the store writes), and the pipeline is reached
through a small port. :meth:`Hj212Handler.handle` says whether the frame was good: the
connection's budget of garbage and refused frames is reset only by a good one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from forewarn.logs import Throttle, excerpt
from forewarn.model import KIND_BY_CN
from forewarn.protocols.hj212.codec import Frame, Hj212Error, check_quirks, parse
from forewarn.protocols.hj212.framing import RawFrame
from forewarn.protocols.hj212.ledger import PacketLedger
from forewarn.protocols.hj212.quirks import allowed_quirks, refusal_hint
from forewarn.protocols.hj212.readings import DataTimeConverter, frame_rows
from forewarn.protocols.hj212.replies import (
    QNRTN_CRC_ERROR,
    QNRTN_WRONG_PASSWORD,
    data_answer,
    notification_answer,
    request_answer,
    set_time,
)
from forewarn.store.base import DeviceInfo, IngestBatch, QuarantinedPacket, ReadingBatch, Rejection
from forewarn.store.writer import WriteDone

__all__ = ["Hj212Handler", "IngestPort", "Peer"]

log = logging.getLogger(__name__)

_MN = re.compile(rb"MN=([^;&]{1,64})")
_ANSWER_AFTER_STORE = frozenset(KIND_BY_CN) | {"2081"}
_HEARTBEATS = frozenset({"9015", "9021"})


class Peer(Protocol):
    """The connection a frame came in on."""

    peer: str

    def send(self, data: bytes) -> None: ...
    def hold(self) -> None:
        """A batch from this connection went to the writer (released once stored or failed)."""
    def release(self) -> None: ...


class IngestPort(Protocol):
    """The part of the pipeline an adapter uses."""

    def device(self, mn: str) -> DeviceInfo | None: ...
    def submit(self, batch: IngestBatch, on_stored: WriteDone | None = None) -> None: ...
    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None: ...
    def quarantine_has_room(self) -> bool: ...
    def now_ms(self) -> int: ...


def sniff_mn(data: bytes) -> str:
    """The MN of a frame too broken to parse, for the rejection log (empty if none)."""
    found = _MN.search(data)
    return found.group(1).decode("ascii", "replace") if found else ""


class Hj212Handler:
    """Judges frames for one platform; shared by all connections."""

    def __init__(
        self, port: IngestPort, tz: ZoneInfo, *, future_tolerance_s: float = 86400.0, strict: bool = False
    ) -> None:
        """``strict``: the platform's ``hj212_strict``; every device then gets only the quirks
        its leniency lists, instead of the tolerant default (:mod:`.quirks`)."""
        self.port = port
        self.tz = tz
        self.to_ms = DataTimeConverter(tz)
        self.future_tolerance_ms = int(future_tolerance_s * 1000)
        self.strict = strict
        self._bad_values = Throttle(log)
        #: each device's last uploads, for the screening's clock and repeat checks
        self.ledger = PacketLedger()
        #: a device's leniency -> the quirks it allows: few distinct ones, resolved once each
        self._allowed: dict[frozenset[str], frozenset[str]] = {}

    # ------------------------------------------------------------------ live frames

    def handle(self, raw: RawFrame, conn: Peer) -> bool:
        """Judge one frame, store what it carries, answer it; False when it was refused."""
        port = self.port
        try:
            frame = parse(raw.data, crlf=raw.crlf)
        except Hj212Error as exc:
            port.reject(exc.reason, mn=sniff_mn(raw.data), detail=exc.detail, peer=conn.peer)
            if exc.reason == "crc_mismatch":
                self._answer_bad_crc(raw, conn)
            return False
        now = port.now_ms()
        device = port.device(frame.mn)
        if device is None:
            return self._quarantine(frame, raw, conn, now)
        batch = IngestBatch()
        try:
            self.judge(frame, device, batch, now)
        except Hj212Error as exc:
            port.reject(exc.reason, mn=frame.mn, detail=exc.detail, peer=conn.peer)
            if exc.reason == "wrong_password" and frame.qn is not None:
                conn.send(request_answer(frame, QNRTN_WRONG_PASSWORD))
            return False
        batch.note_activity(device.id, now, now)
        if batch.readings and batch.readings[-1].rows:  # a data upload: its clock and whether it repeats
            readings = batch.readings[-1]
            self.ledger.note(batch, device.id, readings.kind.value, now, readings.rows[0][2], frame.qn, raw.data)
        cn = frame.cn
        if cn in _ANSWER_AFTER_STORE:
            reply = data_answer(frame) if frame.answer_wanted else None
            conn.hold()
            port.submit(batch, _send_when_stored(conn, reply, frame.mn))
            return True
        conn.hold()
        port.submit(batch, _send_when_stored(conn, None, frame.mn))
        if cn == "1013":  # time calibration request: acknowledge, then set the clock
            conn.send(notification_answer(frame))
            conn.send(set_time(frame, datetime.fromtimestamp(now / 1000, self.tz)))
        elif cn in _HEARTBEATS and frame.answer_wanted:
            conn.send(notification_answer(frame))
        return True

    def _answer_bad_crc(self, raw: RawFrame, conn: Peer) -> None:
        """9011 with QnRtn=9 (the standard's code for a CRC error) to a registered device.

        Only when the rest of the frame reads as that device's (its MN, its password, a QN to
        answer): the device then sends again at once instead of waiting out its answer
        timeout, while junk, unregistered MNs and wrong passwords get no answer (a flood of
        refused frames is not echoed back to its sender).
        """
        try:
            frame = parse(raw.data, crlf=raw.crlf, check_crc=False)
        except Hj212Error:
            return
        device = self.port.device(frame.mn)
        if device is None or frame.qn is None or (device.password and frame.pw != device.password):
            return
        conn.send(request_answer(frame, QNRTN_CRC_ERROR))

    def tolerates_no_crlf(self, data: bytes) -> bool:
        """Whether the registered device that sent ``data`` may omit the CRLF.

        A frame complete by its length but without its CRLF is taken after a short wait only
        for such a device; for any other the CRLF may just be late (a cellular link), and
        taking the frame early would refuse it as ``no_crlf``.
        """
        device = self.port.device(sniff_mn(data))
        return device is not None and "no_crlf" in device.leniency

    def _quarantine(self, frame: Frame, raw: RawFrame, conn: Peer, now: int) -> bool:
        """Keep a packet from an unregistered MN as it came, to be claimed on registration."""
        if not self.port.quarantine_has_room():
            self.port.reject(
                "quarantine_full", mn=frame.mn, peer=conn.peer,
                detail="unregistered device's packet refused: quarantine is full (register devices)",
            )
            return False
        batch = IngestBatch(
            quarantine=[QuarantinedPacket(frame.mn, now, raw.data, raw.crlf, conn.peer)]
        )
        batch.counters["packets_quarantined"] += 1
        wanted = frame.answer_wanted and frame.cn in _ANSWER_AFTER_STORE
        conn.hold()
        self.port.submit(batch, _send_when_stored(conn, data_answer(frame) if wanted else None, frame.mn))
        return True

    # ------------------------------------------------------------------ judging

    def judge(self, frame: Frame, device: DeviceInfo, batch: IngestBatch, now_ms: int) -> None:
        """Check a registered device's frame and add what it carries to ``batch``.

        Raises Hj212Error when the frame is refused; values that are not numbers are
        rejected one by one (counted) while the rest of the frame is kept.
        """
        if frame.quirks:  # most frames have none: nothing to resolve
            self._check_quirks(frame, device.leniency)
        if device.password and frame.pw != device.password:
            raise Hj212Error("wrong_password", f"PW={frame.pw!r} does not match the registry")
        if frame.cn not in KIND_BY_CN:
            _count_quirks(frame, device, batch)
            batch.counters["commands_received"] += 1
            return
        kind, rows, problems = frame_rows(frame, self.to_ms, now_ms + self.future_tolerance_ms)
        _count_quirks(frame, device, batch)
        for problem in problems:
            problem = excerpt(problem)
            self._bad_values.warning("bad_value", "MN=%s: value not stored: %s", excerpt(frame.mn, 64), problem)
            batch.rejections.append(Rejection("bad_value", now_ms, frame.mn, problem))
        batch.readings.append(ReadingBatch(device.id, kind, rows))
        batch.counters["packets_accepted"] += 1
        if frame.split:
            batch.counters["split_parts_accepted"] += 1

    def _check_quirks(self, frame: Frame, leniency: frozenset[str]) -> None:
        allowed = self._allowed.get(leniency)
        if allowed is None:
            allowed = self._allowed[leniency] = allowed_quirks(leniency, self.strict)
        check_quirks(frame, allowed, lambda quirk: refusal_hint(quirk, leniency, self.strict))

    def claim(
        self, device: DeviceInfo, packets: list[tuple[int, int, bytes, bool]]
    ) -> tuple[IngestBatch, int]:
        """Turn a registered device's quarantined packets into an ordinary batch.

        Each packet is judged exactly as if it had just arrived. Accepted packets leave
        quarantine in the same transaction that stores their readings; refused ones stay,
        with the reason recorded, so that correcting the registry and importing again still
        stores them (the device was told they were stored and will not send them again).
        Returns the batch and how many packets were refused.
        """
        batch = IngestBatch()
        refused = 0
        now = self.port.now_ms()
        for row_id, received_ms, raw, crlf in packets:
            try:
                self.judge(parse(raw, crlf=crlf), device, batch, now)
            except Hj212Error as exc:
                refused += 1
                batch.refused_quarantine.append((row_id, str(exc)))
                continue
            batch.claimed_quarantine.append(row_id)
            batch.note_activity(device.id, received_ms, received_ms)
        batch.counters["packets_claimed"] += len(batch.claimed_quarantine)
        return batch, refused


def _count_quirks(frame: Frame, device: DeviceInfo, batch: IngestBatch) -> None:
    for quirk in frame.quirks:
        batch.quirks[(device.id, quirk.value)] += 1


def _send_when_stored(conn: Peer, reply: bytes | None, mn: str) -> Callable[[BaseException | None], None]:
    def done(error: BaseException | None) -> None:
        conn.release()
        if error is not None:
            log.error("MN=%s: not stored (%s); no answer sent, the device will retry", mn, error)
        elif reply is not None:
            conn.send(reply)

    return done
