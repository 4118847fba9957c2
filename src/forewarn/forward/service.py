"""Forwarding upward, as a platform runs it: the targets of ``forward.toml``, their rules kept
in step with the registry, one sender each, and their status for the CLI, the API and the
dashboard."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec

from forewarn.forward.config import Target, load_targets
from forewarn.forward.sender import Sender
from forewarn.store import forwarding
from forewarn.store.base import IngestBatch
from forewarn.store.readers import ReaderPool, snapshot
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter
from forewarn.times import iso

__all__ = ["Forwarding", "TargetStatus", "target_status"]


class TargetStatus(msgspec.Struct, kw_only=True):
    """One target as its operator watches it."""

    name: str
    protocol: str
    address: str
    #: the link is up now (only a running platform knows; None from the command line)
    connected: bool | None
    #: readings stored and not yet answered for by the target
    backlog: int
    #: how far behind the oldest of them is (seconds from its time to now), None when none waits
    lag_s: float | None
    delivered: int
    frames: int
    last_sent: str | None
    last_error: str
    last_error_at: str | None


def target_status(db: sqlite3.Connection, targets: list[Target], now_ms: int, tz: ZoneInfo,
                  connected: dict[str, bool] | None = None) -> list[TargetStatus]:
    by_name = {t.name: t for t in targets}
    out = []
    for s in forwarding.status(db, by_name):
        t = by_name[s.target]
        out.append(TargetStatus(
            name=t.name, protocol=t.protocol, address=t.where(),
            connected=None if connected is None else connected.get(t.name, False),
            backlog=s.backlog, lag_s=None if s.oldest_ts is None else max(0.0, (now_ms - s.oldest_ts) / 1000),
            delivered=s.delivered, frames=s.frames,
            last_sent=None if s.last_sent_ms is None else iso(s.last_sent_ms, tz),
            last_error=s.last_error, last_error_at=None if s.error_ms is None else iso(s.error_ms, tz)))
    return out


class Forwarding:
    def __init__(self, path: Path, readers: ReaderPool, writer: BatchWriter[SqliteStore], tz: ZoneInfo,
                 clock: Callable[[], float] = time.time) -> None:
        """Raises ForwardConfigError (in words) when the file is wrong."""
        self.targets = load_targets(path)
        self.readers = readers
        self.writer = writer
        self.tz = tz
        self.clock = clock
        self.senders = [Sender(t, readers, writer, tz, clock) for t in self.targets]
        self._tasks: list[asyncio.Task[None]] = []

    def sync_rules(self, _devices: object = None) -> None:
        """Which devices' readings each target takes, from the registry as it is now (a writer
        job: after every write before it, so a reading stored after it is routed by it). Also
        run with no targets, so that the rules of a target taken out of the file are gone."""
        targets = list(self.targets)
        self.writer.submit_job(lambda store: _sync(store, targets))

    def start(self) -> None:
        self.sync_rules()
        self._tasks = [asyncio.create_task(s.run()) for s in self.senders]

    def on_committed(self, batch: IngestBatch) -> None:
        """A ``Pipeline.on_committed`` listener: readings may be waiting for the senders."""
        if batch.readings:
            for sender in self.senders:
                sender.poke()

    async def status(self) -> list[TargetStatus]:
        connected = {s.target.name: s.connected for s in self.senders}
        now = int(self.clock() * 1000)
        targets, tz = self.targets, self.tz
        return await self.readers.run(snapshot(lambda db: target_status(db, targets, now, tz, connected)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _sync(store: SqliteStore, targets: list[Target]) -> None:
    store.run_in_transaction(lambda db: forwarding.sync_rules(db, targets))
