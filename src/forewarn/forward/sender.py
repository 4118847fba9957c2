"""One sender per target: keeps the link, sends the outbox in order, waits for the answers.

HJ 212: a TCP connection to the target; frames go out with up to ``window`` unanswered, each
answered 9014 with its QN; an answer for the oldest unanswered frame delivers everything up to
its last row (the rows leave the outbox in a writer job). An answer that does not come within
``timeout_s``, or a link that breaks, ends the connection: the sender connects again with
backoff (1 s to a minute) and sends again from the oldest unanswered row. So a target that is
down for an hour receives everything when it is back, in the order it was stored (each
device's order with it); a frame whose answer was lost on the way is sent again, which a
forewarn above stores once (the first value for a point and time is kept).

HTTP: forewarn's own JSON batch to the target's ``/api/v1/ingest`` with its bearer token; a 200
delivers the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from zoneinfo import ZoneInfo

import httpx

from forewarn.forward.config import Target
from forewarn.forward.encode import OutboxRow, OutFrame, frames_of, json_batch
from forewarn.protocols.hj212.codec import Hj212Error, parse
from forewarn.protocols.hj212.framing import StreamFramer
from forewarn.store import forwarding
from forewarn.store.readers import ReaderPool, snapshot
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter

__all__ = ["Sender"]

log = logging.getLogger(__name__)

_READ_ROWS = 2000


class Sender:
    def __init__(self, target: Target, readers: ReaderPool, writer: BatchWriter[SqliteStore], tz: ZoneInfo,
                 clock: Callable[[], float] = time.time) -> None:
        self.target = target
        self.readers = readers
        self.writer = writer
        self.tz = tz
        self.clock = clock
        self.connected = False
        self.last_error = ""
        self.sent_frames = 0
        self._wake = asyncio.Event()
        #: every row up to this id is answered for (in memory at once; in the store by a job)
        self._acked = 0

    def poke(self) -> None:
        """New rows may be in the outbox."""
        self._wake.set()

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def run(self) -> None:
        delay = 1.0
        while True:
            try:
                if self.target.protocol == "hj212":
                    await self._hj212()
                else:
                    await self._http()
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, ConnectionError, httpx.HTTPError) as exc:
                self._failed(str(exc) or type(exc).__name__)
            self.connected = False
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 60.0)

    def _failed(self, error: str) -> None:
        if error != self.last_error:
            log.warning("forwarding to %s (%s): %s; trying again", self.target.name, self.target.where(), error)
        self.last_error = error
        name, now = self.target.name, self._now_ms()
        self.writer.submit_job(lambda store: store.run_in_transaction(
            lambda db: forwarding.note_error(db, name, error, now)))

    async def _rows(self, after: int) -> list[OutboxRow]:
        name = self.target.name
        return await self.readers.run(snapshot(lambda db: forwarding.pending(db, name, after, _READ_ROWS)))

    def _deliver(self, upto: int, frames: int, values: int, last_ts: int) -> None:
        if upto <= self._acked:
            return
        self._acked = upto
        name, now = self.target.name, self._now_ms()
        self.writer.submit_job(lambda store: store.run_in_transaction(
            lambda db: forwarding.delivered(db, name, upto, frames, values, last_ts, now)))

    async def _idle(self) -> None:
        """Wait for new rows (a commit pokes) or a second, whichever comes first."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), 1.0)

    # ---------------------------------------------------------------- HJ 212 over TCP

    async def _hj212(self) -> None:
        t = self.target
        reader, writer = await asyncio.wait_for(asyncio.open_connection(t.host, t.port), t.timeout_s)
        self.connected = True
        if self.last_error:
            log.info("forwarding to %s (%s): connected", t.name, t.where())
            self.last_error = ""
        framer = StreamFramer()
        waiting: deque[tuple[OutFrame, int]] = deque()  # sent, unanswered: (frame, the rows' newest ts)
        queued: deque[tuple[OutFrame, int]] = deque()
        read_upto = self._acked
        answers: asyncio.Task[bytes] | None = None
        try:
            while True:
                if not queued and len(waiting) < t.window:
                    rows = await self._rows(read_upto)
                    if rows:
                        read_upto = rows[-1].id
                        newest = {r.id: r.ts for r in rows}
                        for frame in frames_of(rows, mn_map=t.mn_map, password=t.password, st=t.st, tz=self.tz,
                                               now_ms=self._now_ms()):
                            queued.append((frame, newest.get(frame.last_id, 0)))
                while queued and len(waiting) < t.window:
                    entry = queued.popleft()
                    writer.write(entry[0].data)
                    waiting.append(entry)
                    self.sent_frames += 1
                if not waiting:
                    await self._idle()
                    continue
                if answers is None:
                    answers = asyncio.ensure_future(reader.read(65536))
                try:
                    data = await asyncio.wait_for(asyncio.shield(answers), t.timeout_s)
                except TimeoutError:
                    raise TimeoutError(f"no answer within {t.timeout_s:g} s to QN={waiting[0][0].qn}") from None
                answers = None
                if not data:
                    raise ConnectionError("the target closed the connection")
                frames = values = 0
                upto, last_ts = 0, 0
                for raw in framer.feed(data):
                    try:
                        answer = parse(raw.data, crlf=raw.crlf)
                    except Hj212Error:
                        continue
                    if answer.cn != "9014" or not waiting or answer.qn != waiting[0][0].qn:
                        continue  # not the answer to the oldest frame: its own answer, or the timeout, decides
                    frame, ts = waiting.popleft()
                    frames += 1
                    values += frame.rows
                    if frame.last_id > upto:
                        upto, last_ts = frame.last_id, max(last_ts, ts)
                if upto:
                    self._deliver(upto, frames, values, last_ts)
        finally:
            if answers is not None:
                answers.cancel()
            writer.close()

    # ---------------------------------------------------------------- forewarn JSON over HTTP

    async def _http(self) -> None:
        t = self.target
        headers = {"Authorization": f"Bearer {t.token}"} if t.token else {}
        async with httpx.AsyncClient(timeout=t.timeout_s) as client:
            while True:
                rows = await self._rows(self._acked)
                if not rows:
                    self.connected = True
                    await self._idle()
                    continue
                answer = await client.post(t.url, json=json_batch(rows, t.mn_map), headers=headers)
                if answer.status_code != 200:
                    raise ConnectionError(f"HTTP {answer.status_code}: {answer.text[:200]}")
                self.connected = True
                self.last_error = ""
                self._deliver(rows[-1].id, 1, len(rows), max(r.ts for r in rows))
