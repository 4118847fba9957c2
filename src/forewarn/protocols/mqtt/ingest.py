"""One MQTT message to stored readings: shared by the listener and the subscriber.

:meth:`MessageIngest.handle` answers whether the message may be acknowledged to its sender
(PUBACK): yes once what it carries is committed (readings, or quarantine for MNs the registry
does not know), and yes when it is refused for good (unreadable, a wrong password: a
redelivery would be refused again; the refusal is counted and logged like HJ 212's). No only
when the store failed: the message is then left unacknowledged, and the adapter reconnects so
that the broker (or the device) delivers it again. So an acknowledgement means "stored", as a
9014 does on the HJ 212 port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from forewarn.logs import Throttle, excerpt
from forewarn.model import Kind
from forewarn.protocols.hj212.framing import StreamFramer
from forewarn.protocols.hj212.handler import Hj212Handler, IngestPort
from forewarn.protocols.http.telemetry import PayloadError
from forewarn.protocols.mqtt.layouts import Layout, decode, quarantine_format
from forewarn.store.base import DeviceInfo, IngestBatch, QuarantinedPacket, ReadingBatch, Rejection
from forewarn.store.writer import WriteDone

__all__ = ["MessageIngest"]

log = logging.getLogger(__name__)


class _Outcome:
    """The batches one message submitted, and whether all of them were stored."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.pending = 0
        self.error: BaseException | None = None
        self.done: asyncio.Future[None] = loop.create_future()
        self.submitted = False

    def settle(self) -> None:
        if self.pending == 0 and not self.done.done():
            self.done.set_result(None)


class _MessagePort:
    """The pipeline as the HJ 212 handler sees it, noting which batches the current message
    submitted (the handler is synchronous, so "current" is exact)."""

    def __init__(self, port: IngestPort) -> None:
        self.port = port
        self.current: _Outcome | None = None

    def device(self, mn: str) -> DeviceInfo | None:
        return self.port.device(mn)

    def submit(self, batch: IngestBatch, on_stored: WriteDone | None = None) -> None:
        outcome = self.current
        assert outcome is not None, "a batch outside a message"
        outcome.pending += 1
        outcome.submitted = True

        def done(error: BaseException | None) -> None:
            if on_stored is not None:
                on_stored(error)
            outcome.pending -= 1
            if error is not None:
                outcome.error = error
            outcome.settle()

        self.port.submit(batch, done)

    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None:
        self.port.reject(reason, mn=mn, detail=detail, peer=peer)

    def quarantine_has_room(self) -> bool:
        return self.port.quarantine_has_room()

    def now_ms(self) -> int:
        return self.port.now_ms()


class _Silent:
    """An HJ 212 frame's answers have nowhere to go over MQTT: the PUBACK is the answer."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def send(self, data: bytes) -> None:
        pass

    def hold(self) -> None:
        pass

    def release(self) -> None:
        pass


class MessageIngest:
    def __init__(self, port: IngestPort, handler_for: Callable[[IngestPort], Hj212Handler],
                 future_tolerance_s: float, counter: str) -> None:
        """``handler_for(port)``: an HJ 212 handler like the TCP port's, over the given port;
        ``counter``: the counter of messages accepted (``mqtt_listener_messages`` ...)."""
        self.port = port
        self._message_port = _MessagePort(port)
        self.hj212 = handler_for(self._message_port)
        self.future_tolerance_ms = int(future_tolerance_s * 1000)
        self.counter = counter
        self._problems = Throttle(log)

    async def handle(self, layout: Layout, topic: str, payload: bytes, login: DeviceInfo | None, peer: str) -> bool:
        """Store the message's content; True when it may be acknowledged (see the module)."""
        loop = asyncio.get_running_loop()
        outcome = _Outcome(loop)
        self._message_port.current = outcome
        try:
            self._judge(layout, topic, payload, login, peer)
        finally:
            self._message_port.current = None
        if not outcome.submitted:
            return True  # refused (counted) or empty: nothing to wait for
        outcome.settle()
        await asyncio.shield(outcome.done)
        if outcome.error is not None:
            log.error("MQTT %s from %s: not stored (%s); left unacknowledged to be delivered again", topic, peer,
                      outcome.error)
            return False
        return True

    def _judge(self, layout: Layout, topic: str, payload: bytes, login: DeviceInfo | None, peer: str) -> None:
        port = self._message_port
        now = port.now_ms()
        try:
            content = decode(layout, topic, payload, login.mn if login else None, now, now + self.future_tolerance_ms)
        except PayloadError as exc:
            port.reject("mqtt_bad_payload", mn=login.mn if login else "", detail=f"{topic}: {exc}", peer=peer)
            return
        if content.hj212 is not None:
            self._hj212(content.hj212, peer)
            return
        batch = IngestBatch()
        known: set[str] = set()
        for (mn, kind), rows in content.rows.rows.items():
            device = port.device(mn)
            if device is None:
                continue
            known.add(mn)
            batch.readings.append(ReadingBatch(device.id, Kind(kind), rows))
        for mn in known:
            device = port.device(mn)
            assert device is not None
            batch.note_activity(device.id, now, now)
        if login is not None and login.mn not in known:  # a gateway, or an empty message: it was heard
            batch.note_activity(login.id, now, now)
        for mn, part in content.parts.items():
            if mn in known or port.device(mn) is not None:
                continue
            if not port.quarantine_has_room():
                port.reject("quarantine_full", mn=mn, peer=peer,
                            detail="unregistered device's message refused: quarantine is full (register devices)")
                continue
            batch.quarantine.append(QuarantinedPacket(mn, now, part, False, peer, quarantine_format(layout)))
            batch.counters["packets_quarantined"] += 1
        for problem in content.rows.problems:
            problem = excerpt(problem)
            self._problems.warning("bad_value", "MQTT %s: value not stored: %s", topic, problem)
            batch.rejections.append(Rejection("bad_value", now, next(iter(known), ""), problem))
        if batch.readings:
            batch.counters["packets_accepted"] += 1
        batch.counters[self.counter] += 1
        port.submit(batch)

    def _hj212(self, payload: bytes, peer: str) -> None:
        """Frames in the payload, judged one by one as on the TCP port (the CRLF may be left out)."""
        framer = StreamFramer(max_frame=max(8192, len(payload) + 2))
        data = payload if payload.endswith(b"\r\n") else payload + b"\r\n"
        frames = framer.feed(data)
        if not frames:
            shown = excerpt(payload.decode("latin-1"))
            self._message_port.reject("mqtt_bad_payload", detail=f"no HJ 212 frame in {shown}", peer=peer)
            return
        conn = _Silent(peer)
        for frame in frames:
            self.hj212.handle(frame, conn)
