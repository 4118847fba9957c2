"""The embedded store: one SQLite file in WAL mode.

Writes come from one thread only (see :mod:`forewarn.store.writer`), in batched
transactions; readers (the CLI, other processes) read concurrently thanks to WAL. Points a
device reports before anyone registered them are created here, inside the same transaction
as their readings, from the catalogue's templates, and flagged as discovered.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store import registry_export, registry_reads, status_reads
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
from forewarn.store.migrate import migrate
from forewarn.store.series import series

__all__ = ["SqliteStore", "StoreError", "is_transient_sqlite"]

_TABLE = {kind: f"readings_{kind.value}" for kind in Kind}


class StoreError(Exception):
    """The data directory or database cannot be used; the message says why."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqliteStore:
    """SQLite implementation of :class:`forewarn.store.base.Store`."""

    def __init__(self, path: Path, catalogue: Catalogue, *, create: bool = True) -> None:
        self.path = path
        self.catalogue = catalogue
        if not path.exists() and not create:
            raise StoreError(
                f"no forewarn database at {path} (start 'forewarn serve' or import a registry first)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA cache_size=-65536")
        migrate(self.db)
        self._points: dict[int, dict[tuple[str, str], int]] = {}
        #: run inside each write transaction after the readings (e.g. the alarm layer)
        self.batch_hooks: list[Callable[[sqlite3.Connection, IngestBatch], None]] = []

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- registry

    def apply_registry(
        self, devices: list[DeviceRow], points: list[PointRow], regions: list[RegionRow] | None = None,
        *, before_apply: Callable[[sqlite3.Connection], None] | None = None,
        before_commit: Callable[[sqlite3.Connection, ImportResult], None] | None = None,
    ) -> ImportResult:
        """Insert or update regions, enterprises, sites, devices and points in one transaction.

        Keys are natural: region code, enterprise name, (enterprise, site name), device MN,
        (MN, code, sub-field). Re-importing the same file changes nothing and duplicates nothing.
        ``before_apply`` runs first inside the transaction and ``before_commit`` last (the audit
        log's before and after, checks that must see the same state as the import).
        """
        result = ImportResult()
        now = _now_ms()
        db = self.db
        with _transaction(db):
            if before_apply is not None:
                before_apply(db)
            named: dict[str, tuple[str, str]] = {r.code: (r.name, r.parent_code) for r in regions or []}
            for d in devices:
                named[d.region_code] = (d.region_name, d.parent_region_code)
            for code, (name, parent) in named.items():
                db.execute(
                    "INSERT INTO regions (code, name, parent_code) VALUES (?, ?, ?) "
                    "ON CONFLICT (code) DO UPDATE SET name = excluded.name, "
                    "parent_code = COALESCE(NULLIF(excluded.parent_code, ''), regions.parent_code)",
                    (code, name, parent or None),
                )
                result.regions += 1
            enterprise_ids: dict[str, int] = {}
            site_ids: dict[tuple[str, str], int] = {}
            for d in devices:
                if d.enterprise not in enterprise_ids:
                    enterprise_ids[d.enterprise] = _upsert_id(
                        db,
                        # an enterprise's region is where it is registered: set when it is
                        # created, changed only on purpose (PATCH), never by the first row that
                        # happens to name it in a sheet whose sites lie in several districts
                        "INSERT INTO enterprises (name, region_code) VALUES (?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET name = excluded.name "
                        "RETURNING id",
                        (d.enterprise, d.region_code),
                    )
                    result.enterprises += 1
                key = (d.enterprise, d.site)
                if key not in site_ids:
                    site_ids[key] = _upsert_id(
                        db,
                        "INSERT INTO sites (enterprise_id, name, site_type, region_code, "
                        "longitude, latitude, status) VALUES (?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (enterprise_id, name) DO UPDATE SET "
                        "site_type = excluded.site_type, region_code = excluded.region_code, "
                        "longitude = excluded.longitude, latitude = excluded.latitude, "
                        "status = excluded.status RETURNING id",
                        (enterprise_ids[d.enterprise], d.site, d.site_type, d.region_code,
                         d.longitude, d.latitude, d.site_status),
                    )
                    result.sites += 1
                existed = db.execute("SELECT 1 FROM devices WHERE mn = ?", (d.mn,)).fetchone()
                db.execute(
                    "INSERT INTO devices (mn, site_id, protocol, password, interval_s, leniency, "
                    "device_kind, registered_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (mn) DO UPDATE SET site_id = excluded.site_id, "
                    "protocol = excluded.protocol, password = excluded.password, "
                    "interval_s = excluded.interval_s, leniency = excluded.leniency, "
                    "device_kind = excluded.device_kind",
                    (d.mn, site_ids[key], d.protocol, d.password, d.interval_s, d.leniency,
                     d.device_kind, now),
                )
                if existed:
                    result.devices_updated += 1
                else:
                    result.devices_added += 1
            for p in points:
                row = db.execute("SELECT id FROM devices WHERE mn = ?", (p.mn,)).fetchone()
                if row is None:
                    raise StoreError(f"point {p.code}-{p.field}: device {p.mn} is not registered")
                template = self.catalogue.point_template(p.code, p.field)
                # asked, not inferred from created_ms: two imports within one millisecond
                # would otherwise count the second one's points as added
                existed = db.execute("SELECT 1 FROM points WHERE device_id = ? AND code = ? AND field = ?",
                                     (row[0], p.code, p.field)).fetchone()
                db.execute(
                    "INSERT INTO points (device_id, code, field, name, quantity, unit, lower, "
                    "upper, role, discovered, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
                    "ON CONFLICT (device_id, code, field) DO UPDATE SET name = excluded.name, "
                    "quantity = excluded.quantity, unit = excluded.unit, lower = excluded.lower, "
                    "upper = excluded.upper, role = excluded.role, discovered = 0",
                    (row[0], p.code, p.field, p.name or template.name_zh,
                     p.quantity or template.quantity, p.unit or template.unit, p.lower, p.upper,
                     p.role, now),
                )
                if existed:
                    result.points_updated += 1
                else:
                    result.points_added += 1
            db.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'registry_version'"
            )
            if before_commit is not None:
                before_commit(db, result)
        self._points.clear()
        return result

    def run_in_transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """``work(db)`` in one transaction (for writer jobs such as alarm handling steps)."""
        with _transaction(self.db):
            work(self.db)

    def registry_version(self) -> int:
        return registry_reads.registry_version(self.db)

    def device_infos(self) -> dict[str, DeviceInfo]:
        return registry_reads.device_infos(self.db)

    def export_regions(self) -> list[RegionRow]:
        return registry_export.export_regions(self.db)

    def export_devices(self) -> list[DeviceRow]:
        return registry_export.export_devices(self.db)

    def export_points(self) -> list[PointRow]:
        return registry_export.export_points(self.db)

    # ---------------------------------------------------------------- ingest

    def write(self, batch: IngestBatch) -> None:
        """Commit one batch: readings (resolving points), quarantine, counters, activity."""
        try:
            self._write(batch)
        except BaseException:
            self._points.clear()  # points discovered in a rolled-back transaction are gone
            raise

    def _write(self, batch: IngestBatch) -> None:
        db = self.db
        with _transaction(db):
            per_kind: dict[Kind, list[tuple[int, int, float, str]]] = {}
            stored = 0
            for item in batch.readings:
                points = self._points.get(item.device_id)
                if points is None:
                    points = self._load_points(item.device_id)
                out = per_kind.setdefault(item.kind, [])
                for code, field, ts, value, flag in item.rows:
                    point_id = points.get((code, field))
                    if point_id is None:
                        point_id = self._discover_point(item.device_id, code, field, points)
                    out.append((point_id, ts, value, flag))
            offered = 0
            for kind, rows in per_kind.items():
                # first write wins: a retry stores nothing twice, and nothing already stored
                # is overwritten by anyone sending the same point and time again
                cur = db.executemany(
                    f"INSERT OR IGNORE INTO {_TABLE[kind]} (point_id, ts, value, flag) VALUES (?, ?, ?, ?)",
                    rows,
                )
                stored += max(cur.rowcount, 0)
                offered += len(rows)
            if batch.quarantine:
                db.executemany(
                    "INSERT INTO quarantine (mn, received_ms, raw, crlf, peer, format) VALUES (?, ?, ?, ?, ?, ?)",
                    [(q.mn, q.received_ms, q.raw, int(q.crlf), q.peer, q.format) for q in batch.quarantine],
                )
            if batch.claimed_quarantine:
                db.executemany(
                    "DELETE FROM quarantine WHERE id = ?", [(i,) for i in batch.claimed_quarantine]
                )
            if batch.refused_quarantine:
                db.executemany(
                    "UPDATE quarantine SET refused = ? WHERE id = ?",
                    [(reason[:500], i) for i, reason in batch.refused_quarantine],
                )
            if batch.rejections:
                db.executemany(
                    "INSERT INTO rejections (reason, count, last_ms, last_mn, last_detail) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (reason) DO UPDATE SET "
                    "count = count + excluded.count, last_ms = excluded.last_ms, last_mn = excluded.last_mn, "
                    "last_detail = excluded.last_detail",
                    [(rej.reason, rej.count, rej.at_ms, rej.mn, rej.detail[:500]) for rej in batch.rejections],
                )
            if batch.quirks:  # one row per (device, quirk) and merged batch, not per frame
                now = _now_ms()
                db.executemany(
                    "INSERT INTO quirk_usage (device_id, quirk, count, last_ms) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (device_id, quirk) DO UPDATE SET count = count + excluded.count, "
                    "last_ms = excluded.last_ms",
                    [(device_id, quirk, count, now) for (device_id, quirk), count in batch.quirks.items()],
                )
            if batch.activity:
                db.executemany(
                    "INSERT INTO device_activity (device_id, first_ms, last_ms, packets) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                    "first_ms = MIN(first_ms, excluded.first_ms), "
                    "last_ms = MAX(last_ms, excluded.last_ms), packets = packets + excluded.packets",
                    [(d, f, last, n) for d, (f, last, n) in batch.activity.items()],
                )
            if batch.rule_states:
                db.executemany(
                    "INSERT INTO rule_state (rule_id, subject, state) VALUES (?, ?, ?) "
                    "ON CONFLICT (rule_id, subject) DO UPDATE SET state = excluded.state",
                    [(r, s, state) for (r, s), state in batch.rule_states.items()],
                )
            if batch.packet_clock:
                db.executemany(
                    "INSERT INTO packet_clock (device_id, hour_ms, kind, packets, repeats, skew_min_ms, skew_max_ms, "
                    "skew_sum_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, hour_ms, kind) DO UPDATE SET "
                    "packets = packets + excluded.packets, repeats = repeats + excluded.repeats, "
                    "skew_min_ms = MIN(skew_min_ms, excluded.skew_min_ms), "
                    "skew_max_ms = MAX(skew_max_ms, excluded.skew_max_ms), "
                    "skew_sum_ms = skew_sum_ms + excluded.skew_sum_ms",
                    [(d, h, k, *cell) for (d, h, k), cell in batch.packet_clock.items()],
                )
            for hook in self.batch_hooks:
                hook(db, batch)
            counters = batch.counters.copy()
            counters["readings_stored"] += stored
            counters["readings_already_stored"] += offered - stored
            db.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                [(k, v) for k, v in counters.items() if v],
            )

    def _load_points(self, device_id: int) -> dict[tuple[str, str], int]:
        points = {
            (code, field): id_
            for id_, code, field in self.db.execute(
                "SELECT id, code, field FROM points WHERE device_id = ?", (device_id,)
            )
        }
        self._points[device_id] = points
        return points

    def _discover_point(
        self, device_id: int, code: str, field: str, points: dict[tuple[str, str], int]
    ) -> int:
        template = self.catalogue.point_template(code, field)
        point_id = _upsert_id(
            self.db,
            "INSERT INTO points (device_id, code, field, name, quantity, unit, discovered, "
            "created_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?) "
            "ON CONFLICT (device_id, code, field) DO UPDATE SET code = excluded.code RETURNING id",
            (device_id, code, field, template.name_zh, template.quantity, template.unit, _now_ms()),
        )
        points[(code, field)] = point_id
        return point_id

    # ---------------------------------------------------------------- rules

    def rule_states(self) -> dict[tuple[str, str], str]:
        return {(r, s): state for r, s, state in self.db.execute("SELECT rule_id, subject, state FROM rule_state")}

    def rule_context(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Devices with their site, enterprise and region; points with what they measure."""
        return registry_reads.rule_context(self.db)

    def last_seen(self) -> dict[int, int]:
        return dict(self.db.execute("SELECT device_id, last_ms FROM device_activity").fetchall())

    def rule_version(self, rule_id: str, digest: str, body: str) -> int:
        """The version number of this content of a rule, numbering it if it is new."""
        row = self.db.execute(
            "SELECT version FROM rule_versions WHERE rule_id = ? AND hash = ?", (rule_id, digest)
        ).fetchone()
        if row is not None:
            return int(row[0])
        with _transaction(self.db):
            row = self.db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM rule_versions WHERE rule_id = ?", (rule_id,)
            ).fetchone()
            self.db.execute(
                "INSERT OR IGNORE INTO rule_versions (rule_id, version, hash, body, created_ms) "
                "VALUES (?, ?, ?, ?, ?)", (rule_id, row[0], digest, body, _now_ms()),
            )
        return self.rule_version(rule_id, digest, body)

    # ---------------------------------------------------------------- queries

    def readings(
        self,
        mn: str,
        kind: Kind,
        code: str | None = None,
        from_ms: int | None = None,
        to_ms: int | None = None,
    ) -> Iterator[ReadingRecord]:
        sql = (
            f"SELECT p.code, p.field, r.ts, r.value, r.flag FROM points p "
            f"JOIN devices d ON d.id = p.device_id JOIN {_TABLE[kind]} r ON r.point_id = p.id "
            "WHERE d.mn = ? AND r.ts >= ? AND r.ts <= ?"
        )
        args: list[object] = [mn, from_ms if from_ms is not None else -(2**62),
                              to_ms if to_ms is not None else 2**62]
        if code is not None:
            sql += " AND p.code = ?"
            args.append(code)
        sql += " ORDER BY r.ts, p.code, p.field"
        for code_, field, ts, value, flag in self.db.execute(sql, args):
            yield ReadingRecord(mn, code_, field, kind, ts, value, flag)

    def latest(self, kind: Kind = Kind.RTD, mn: str | None = None) -> list[ReadingRecord]:
        """The newest reading of every point, one index seek per point."""
        table = _TABLE[kind]
        sql = (
            "SELECT d.mn, p.code, p.field, r.ts, r.value, r.flag FROM points p "
            "JOIN devices d ON d.id = p.device_id "
            f"JOIN {table} r ON r.point_id = p.id AND r.ts = "
            f"(SELECT MAX(ts) FROM {table} WHERE point_id = p.id)"
        )
        args: tuple[str, ...] = ()
        if mn is not None:
            sql += " WHERE d.mn = ?"
            args = (mn,)
        sql += " ORDER BY d.mn, p.code, p.field"
        return [ReadingRecord(m, c, f, kind, ts, v, fl) for m, c, f, ts, v, fl in self.db.execute(sql, args)]

    def series(
        self, point_id: int, kind: Kind, from_ms: int, to_ms: int, max_points: int
    ) -> list[tuple[int, float | None, str]]:
        """One point's readings, downsampled keeping peaks (see :mod:`forewarn.store.series`)."""
        return series(self.db, point_id, kind, from_ms, to_ms, max_points)

    def unknown_devices(self) -> list[UnknownDevice]:
        rows = self.db.execute(
            "SELECT mn, MIN(received_ms), MAX(received_ms), COUNT(*), "
            "(SELECT peer FROM quarantine q2 WHERE q2.mn = q.mn ORDER BY id DESC LIMIT 1), "
            "MAX(refused) FROM quarantine q GROUP BY mn ORDER BY MAX(received_ms) DESC"
        )
        return [UnknownDevice(*r) for r in rows]

    def quarantined_mns(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT DISTINCT mn FROM quarantine")}

    def quarantine_size(self) -> int:
        return registry_reads.quarantine_size(self.db)

    def quarantined(self, mn: str) -> list[tuple[int, int, bytes, bool]]:
        rows = self.db.execute(
            "SELECT id, received_ms, raw, crlf FROM quarantine WHERE mn = ? AND format = 'hj212' ORDER BY id", (mn,)
        )
        return [(i, ms, bytes(raw), bool(crlf)) for i, ms, raw, crlf in rows]

    def quarantined_messages(self, mn: str) -> list[tuple[int, int, bytes, str]]:
        rows = self.db.execute(
            "SELECT id, received_ms, raw, format FROM quarantine WHERE mn = ? AND format != 'hj212' ORDER BY id", (mn,)
        )
        return [(i, ms, bytes(raw), str(fmt)) for i, ms, raw, fmt in rows]

    def counters(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, value FROM counters").fetchall())

    def status(self, now_ms: int, offline_after_intervals: float) -> dict[str, object]:
        return status_reads.platform_status(self.db, now_ms, offline_after_intervals)

    def is_transient(self, exc: BaseException) -> bool:
        """Busy or locked (another connection holds the lock longer than busy_timeout): the
        same transaction can pass once it lets go. Anything else (a constraint, a full disk,
        a corrupt file, a bug) fails again the same way."""
        return is_transient_sqlite(exc)


_BUSY_OR_LOCKED = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def is_transient_sqlite(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included (their low byte is the primary code)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised by Python itself, not by SQLite: judge by the text SQLite uses
        return "locked" in str(exc) or "busy" in str(exc)
    return code & 0xFF in _BUSY_OR_LOCKED


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def _upsert_id(db: sqlite3.Connection, sql: str, args: tuple[object, ...]) -> int:
    row = db.execute(sql, args).fetchone()
    return int(row[0])
