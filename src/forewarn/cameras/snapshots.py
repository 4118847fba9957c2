"""Snapshots of a site's cameras when an alarm fires there, kept in the alarm's evidence.

The taker listens after the fact, never in the way: an alarm is recorded and its notices
queued in the readings' own transaction (:mod:`forewarn.alarms.records`), and only once that
has committed does the pipeline tell its ``on_committed`` listeners, this one among them. The
taker then tails ``alarm_steps`` for new ``fired`` steps (on a reader thread), grabs each camera
of the alarm's site at once (:class:`~forewarn.cameras.grab.Grabber`, on the loop without
blocking it, each within ``camera_timeout_s``), keeps each JPEG in the data directory under its
sha256 and records the grab (time, sha256, size, or why there is none) through the single
writer. So neither the alarm's commit nor its notification ever waits for a camera, and a
camera that does not answer is one row saying so.

JPEGs lie in ``DATA/snapshots/ALARM_ID/SHA256.jpg``, not in the database: a few hundred kB
each, several per alarm, they would swell the SQLite file and its WAL and pass through the one
writer that the devices' readings wait for; as files (written off the loop, named by content,
so writing one twice changes nothing) they are backed up and pruned like on-site attachments.

Backfilled alarms (judged from late data) get no snapshot: a picture of the site now says
nothing of a moment hours ago. At start the taker begins from the newest step: alarms fired
while the platform was down are long past their moment too.

The same grabber answers the dashboard's snapshot proxy (:meth:`SnapshotTaker.latest`), with
a short cache so that several viewers of one camera cost it one grab.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from forewarn.cameras.grab import Grab, Grabber
from forewarn.cameras.urls import live_kind, origin
from forewarn.store import cameras as sql
from forewarn.store.base import IngestBatch
from forewarn.store.readers import ReaderPool
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter, WriterClosed

__all__ = ["SnapshotTaker", "snapshot_path"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: grabs in flight beyond which an alarm's cameras are noted as not taken (an alarm storm)
MAX_IN_FLIGHT = 200
#: how long one grab answers the dashboard's proxy for the same camera
LATEST_FOR_S = 2.0
#: a look at the steps at least this often, should a commit callback be missed
LOOK_EVERY_S = 5.0


def snapshot_path(folder: Path, alarm_id: int, sha256: str) -> Path:
    return folder / str(alarm_id) / f"{sha256}.jpg"


def _keep(path: Path, jpeg: bytes) -> None:
    """Write the file whole or not at all (a reader never sees half a JPEG)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_bytes(jpeg)
    os.replace(part, path)


def _fired_since(db: sqlite3.Connection, after: int) -> tuple[int, list[sql.FiredAt]]:
    return sql.fired_since(db, after)


class SnapshotTaker:
    """Takes the snapshots of fired alarms; answers the proxy; knows the live views' origins."""

    def __init__(self, readers: ReaderPool, writer: BatchWriter[SqliteStore], folder: Path, timeout_s: float,
                 *, clock: Callable[[], float] = time.time, grabber: Grabber | None = None) -> None:
        self.readers = readers
        self.writer = writer
        self.folder = folder
        self.clock = clock
        self.grabber = grabber or Grabber(timeout_s)
        self.last_step_id = 0
        #: ``scheme://host[:port]`` of every active camera's browser-playable live view (for the CSP)
        self.live_origins: frozenset[str] = frozenset()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        #: (camera, address) -> (monotonic start, wall-clock start ms, the grab): one grab serves all within 2 s
        self._latest: dict[tuple[int, str], tuple[float, int, asyncio.Task[Grab]]] = {}
        #: called with each alarm id once all its cameras are recorded (tests await it)
        self.on_recorded: list[Callable[[int], None]] = []
        #: some camera takes HTTP snapshots: the HTTP client is prepared ahead of the first alarm
        self._want_http = False

    # ------------------------------------------------------------------ lifecycle

    def start(self, db: sqlite3.Connection) -> None:
        """Begin from the newest step (alarms before now are past their moment)."""
        self.last_step_id = sql.last_step_id(db)
        self.load_live_origins(db)()

    def load_live_origins(self, db: sqlite3.Connection) -> Callable[[], None]:
        """A ``Pipeline.registry_loaders`` entry: the live views' origins, read with ``db``."""
        found = frozenset(origin(url) for url in sql.live_urls(db) if live_kind(url) != "none")
        http = sql.has_http_snapshots(db)

        def swap() -> None:
            self.live_origins = found
            if http and not self._want_http:
                self._want_http = True
                self._wake.set()  # prepared now, not at the next look

        return swap

    def on_committed(self, batch: IngestBatch) -> None:
        """A ``Pipeline.on_committed`` listener: a batch with rule events may have fired alarms."""
        if batch.rule_events:
            self._wake.set()

    async def run(self) -> None:
        prepared = False
        while True:
            if self._want_http and not prepared:
                prepared = True
                try:
                    await self.grabber.prepare()
                except Exception:  # a grab tries again and says what fails
                    log.exception("the cameras' HTTP client could not be prepared")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), LOOK_EVERY_S)
            self._wake.clear()
            try:
                await self.look()
            except Exception:
                log.exception("looking for fired alarms to snapshot failed; will look again")

    async def stop(self) -> None:
        for task in [*self._tasks, *(t for _, _, t in self._latest.values())]:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.grabber.aclose()

    # ------------------------------------------------------------------ alarms

    async def look(self) -> None:
        """Start the snapshots of every alarm fired since the last look."""
        while True:
            after = self.last_step_id
            newest, fired = await self.readers.run(functools.partial(_fired_since, after=after))
            self.last_step_id = newest
            for f in fired:
                if f.live:
                    self._spawn(self._take(f))
            if newest == after:  # nothing new (a backlog is worked off 500 steps a query)
                return

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take(self, fired: sql.FiredAt) -> None:
        busy = self._in_flight + len(fired.cameras) > MAX_IN_FLIGHT
        self._in_flight += len(fired.cameras)
        try:
            await asyncio.gather(*(self._one(fired.alarm_id, cam, busy) for cam in fired.cameras))
        finally:
            self._in_flight -= len(fired.cameras)
        for listener in self.on_recorded:
            listener(fired.alarm_id)

    async def _one(self, alarm_id: int, camera: tuple[int, str, str], busy: bool) -> None:
        camera_id, name, url = camera
        if busy:
            taken = int(self.clock() * 1000)
            grab = Grab(b"", f"not taken: more than {MAX_IN_FLIGHT} snapshots were being taken at once", 0)
        else:
            taken, grab = await self._shared(camera_id, url)
        digest = hashlib.sha256(grab.jpeg).hexdigest() if grab.ok else ""
        if grab.ok:
            try:
                await asyncio.to_thread(_keep, snapshot_path(self.folder, alarm_id, digest), grab.jpeg)
            except OSError as exc:
                grab, digest = Grab(b"", f"was taken but could not be kept: {exc.strerror or exc}", grab.took_ms), ""
        if grab.error:
            log.info("alarm %d: camera %d (%s) %s", alarm_id, camera_id, name, grab.error)
        row = sql.SnapshotRow(0, alarm_id, camera_id, name, taken, grab.took_ms, digest, len(grab.jpeg), grab.error)
        try:
            await self._write(lambda db: sql.insert_snapshot(db, row))
        except WriterClosed:
            log.warning("alarm %d: camera %d's snapshot not recorded: the platform is stopping", alarm_id, camera_id)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def settle(result: T | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)  # type: ignore[arg-type]

        def job(store: SqliteStore) -> None:
            box: list[T] = []
            try:
                store.run_in_transaction(lambda db: box.append(work(db)))
            except BaseException as exc:
                loop.call_soon_threadsafe(settle, None, exc)
                return
            loop.call_soon_threadsafe(settle, box[0], None)

        self.writer.submit_job(job)
        return await done

    # ------------------------------------------------------------------ the dashboard's proxy

    async def latest(self, camera_id: int, url: str) -> Grab:
        """A snapshot of the camera now, shared by requests within :data:`LATEST_FOR_S`."""
        return (await self._shared(camera_id, url))[1]

    async def _shared(self, camera_id: int, url: str) -> tuple[int, Grab]:
        """(when it was taken, the grab): a grab begun within :data:`LATEST_FOR_S` serves every asker
        (the proxy's viewers, and the alarms of one batch at one site), so a camera is asked once."""
        now = time.monotonic()
        key = (camera_id, url)
        cached = self._latest.get(key)
        if cached is not None and now - cached[0] < LATEST_FOR_S:
            return cached[1], await asyncio.shield(cached[2])
        if len(self._latest) > 1000:
            self._latest = {k: v for k, v in self._latest.items() if now - v[0] < LATEST_FOR_S}
        taken = int(self.clock() * 1000)
        task = asyncio.ensure_future(self.grabber.grab(url))
        self._latest[key] = (now, taken, task)
        return taken, await asyncio.shield(task)
