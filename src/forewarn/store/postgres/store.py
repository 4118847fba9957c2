"""``PgStore``: the :class:`forewarn.store.base.Store` interface on PostgreSQL.

The same behaviour as :class:`forewarn.store.sqlite.SqliteStore` (the contract suite,
tests/contract/test_store_contract.py, runs on both): first write wins per point and time,
points a device reports unregistered are created from the catalogue's templates inside the
batch's transaction, everything a batch changes commits together. Writes go through one
connection, reads through a pool (:mod:`forewarn.store.postgres.connections`); a connection
lost is opened again on the next call, and :meth:`PgStore.is_transient` tells the writer
which failures to try again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import (
    DeviceInfo,
    DeviceRow,
    ImportResult,
    IngestBatch,
    PointRow,
    ReadingRecord,
    RegionRow,
    UnknownDevice,
)
from forewarn.store.postgres import queries, registry
from forewarn.store.postgres.connections import Connections, describe
from forewarn.store.postgres.errors import is_transient_pg
from forewarn.store.postgres.ingest import PointCache, write_batch
from forewarn.store.postgres.migrate import migrate
from forewarn.store.postgres.partitions import Partitions
from forewarn.store.postgres.series import series
from forewarn.store.sqlite import StoreError

__all__ = ["PgStore"]

Conn = psycopg.Connection[Any]


class PgStore:
    """PostgreSQL implementation of :class:`forewarn.store.base.Store`."""

    def __init__(self, dsn: str, catalogue: Catalogue, *, create: bool = True, readers: int = 4) -> None:
        self.dsn = dsn
        self.catalogue = catalogue
        try:
            self._conns = Connections(dsn, readers=readers)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"cannot reach PostgreSQL at {describe(dsn)} ({reason}): check that the server runs and listens "
                "there, that the database exists and that this user may connect (pg_hba.conf)"
            ) from exc
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"the store address {describe(dsn)} cannot be used: {exc}") from exc
        try:
            writer = self._conns.writer()
            if not create and writer.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
                self._conns.close()
                raise StoreError(
                    f"no forewarn database at {describe(dsn)} (start 'forewarn serve' or import a registry first)"
                )
            migrate(writer)
        except psycopg.Error as exc:
            self._conns.close()
            raise StoreError(f"cannot prepare the forewarn schema at {describe(dsn)}: {exc}") from exc
        #: one transaction at a time on the writer's connection, whichever thread asks (a
        #: registry import from the web layer while the writer thread commits a batch)
        self._writing = threading.RLock()
        self._points = PointCache(catalogue)
        self._partitions = Partitions()
        #: run inside each write transaction after the readings (e.g. the alarm layer)
        self.batch_hooks: list[Callable[[Conn, IngestBatch], None]] = []

    def close(self) -> None:
        self._conns.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writer(self) -> Conn:
        return self._conns.writer()

    # ---------------------------------------------------------------- registry

    def apply_registry(
        self, devices: list[DeviceRow], points: list[PointRow], regions: list[RegionRow] | None = None,
        *, before_apply: Callable[[Conn], None] | None = None,
        before_commit: Callable[[Conn, ImportResult], None] | None = None,
    ) -> ImportResult:
        """Insert or update the registry in one transaction (see SqliteStore.apply_registry);
        ``before_apply`` and ``before_commit`` get the connection inside that transaction."""
        with self._writing:
            return self._apply_registry(devices, points, regions, before_apply, before_commit)

    def _apply_registry(
        self, devices: list[DeviceRow], points: list[PointRow], regions: list[RegionRow] | None,
        before_apply: Callable[[Conn], None] | None, before_commit: Callable[[Conn, ImportResult], None] | None,
    ) -> ImportResult:
        conn = self._writer()
        try:
            with conn.transaction():
                result = registry.apply_registry(
                    conn, self.catalogue, devices, points, regions, before_apply, before_commit)
        except registry.RegistryError as exc:
            raise StoreError(str(exc)) from exc
        finally:
            self._points.clear()
        return result

    def run_in_transaction(self, work: Callable[[Conn], object]) -> None:
        """``work(conn)`` in one transaction (for writer jobs such as alarm handling steps)."""
        with self._writing:
            conn = self._writer()
            with conn.transaction():
                work(conn)

    def registry_version(self) -> int:
        return int(self._conns.read(registry.registry_version))

    def device_infos(self) -> dict[str, DeviceInfo]:
        return self._conns.read(registry.device_infos)

    def export_regions(self) -> list[RegionRow]:
        return self._conns.read(registry.export_regions)

    def export_devices(self) -> list[DeviceRow]:
        return self._conns.read(registry.export_devices)

    def export_points(self) -> list[PointRow]:
        return self._conns.read(registry.export_points)

    # ---------------------------------------------------------------- ingest

    def write(self, batch: IngestBatch) -> None:
        """Commit one batch: readings (resolving and discovering points), quarantine, rejections,
        quirks, activity, rule state, packet clocks, the batch hooks and counters, together."""
        with self._writing:
            self._write(batch)

    def _write(self, batch: IngestBatch) -> None:
        conn = self._writer()
        try:
            self._ensure_partitions(conn, batch)
            with conn.transaction():
                write_batch(conn, batch, self._points, self.batch_hooks)
        except BaseException:
            self._points.clear()  # points discovered in a rolled-back transaction are gone
            if conn.broken or conn.closed:
                self._partitions.forget()
            raise

    def _ensure_partitions(self, conn: Conn, batch: IngestBatch) -> None:
        by_kind: dict[Kind, list[int]] = {}
        for item in batch.readings:
            by_kind.setdefault(item.kind, []).extend(row[2] for row in item.rows)
        for kind, stamps in by_kind.items():
            self._partitions.ensure(conn, kind, stamps)

    # ---------------------------------------------------------------- rules

    def rule_states(self) -> dict[tuple[str, str], str]:
        return self._conns.read(queries.rule_states)

    def rule_context(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Devices with their site, enterprise and region; points with what they measure."""
        return self._conns.read(registry.rule_context)

    def last_seen(self) -> dict[int, int]:
        return self._conns.read(queries.last_seen)

    def rule_version(self, rule_id: str, digest: str, body: str) -> int:
        """The version number of this content of a rule, numbering it if it is new."""
        with self._writing:
            return self._rule_version(rule_id, digest, body)

    def _rule_version(self, rule_id: str, digest: str, body: str) -> int:
        conn = self._writer()
        with conn.transaction():
            row = conn.execute(
                "SELECT version FROM rule_versions WHERE rule_id = %s AND hash = %s", (rule_id, digest)
            ).fetchone()
            if row is not None:
                return int(row[0])
            # two processes numbering the same rule at once: the advisory lock lets one at a time
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('forewarn.rule_version:' || %s))", (rule_id,))
            conn.execute(
                "INSERT INTO rule_versions (rule_id, version, hash, body, created_ms) "
                "SELECT %s, COALESCE(MAX(version), 0) + 1, %s, %s, (extract(epoch FROM now()) * 1000)::BIGINT "
                "FROM rule_versions WHERE rule_id = %s ON CONFLICT DO NOTHING",
                (rule_id, digest, body, rule_id),
            )
            row = conn.execute(
                "SELECT version FROM rule_versions WHERE rule_id = %s AND hash = %s", (rule_id, digest)
            ).fetchone()
        assert row is not None
        return int(row[0])

    # ---------------------------------------------------------------- queries

    def readings(
        self, mn: str, kind: Kind, code: str | None = None, from_ms: int | None = None, to_ms: int | None = None,
    ) -> Iterator[ReadingRecord]:
        rows = self._conns.read(lambda c: queries.readings(c, mn, kind, code, from_ms, to_ms))
        return iter(rows)

    def latest(self, kind: Kind = Kind.RTD, mn: str | None = None) -> list[ReadingRecord]:
        return self._conns.read(lambda c: queries.latest(c, kind, mn))

    def series(
        self, point_id: int, kind: Kind, from_ms: int, to_ms: int, max_points: int
    ) -> list[tuple[int, float | None, str]]:
        """One point's readings, downsampled keeping peaks (see :mod:`forewarn.store.postgres.series`)."""
        return self._conns.read(
            lambda c: series(c, point_id, kind, from_ms, to_ms, max_points))

    def unknown_devices(self) -> list[UnknownDevice]:
        return self._conns.read(queries.unknown_devices)

    def quarantined_mns(self) -> set[str]:
        return self._conns.read(queries.quarantined_mns)

    def quarantine_size(self) -> int:
        return int(self._conns.read(queries.quarantine_size))

    def quarantined(self, mn: str) -> list[tuple[int, int, bytes, bool]]:
        return self._conns.read(lambda c: queries.quarantined(c, mn))

    def quarantined_messages(self, mn: str) -> list[tuple[int, int, bytes, str]]:
        return self._conns.read(lambda c: queries.quarantined_messages(c, mn))

    def counters(self) -> dict[str, int]:
        return self._conns.read(queries.counters)

    def status(self, now_ms: int, offline_after_intervals: float) -> dict[str, object]:
        return self._conns.read(lambda c: queries.status(c, now_ms, offline_after_intervals))

    # ---------------------------------------------------------------- failures

    def is_transient(self, exc: BaseException) -> bool:
        """A lost connection, a serialization failure or deadlock, a server shutting down or
        starting, too many connections: worth the same work again (the next call reconnects)."""
        return is_transient_pg(exc)
