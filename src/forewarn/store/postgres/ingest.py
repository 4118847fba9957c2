"""One ingest batch into PostgreSQL, in one transaction: readings, quarantine, counters, state.

Readings go by binary COPY into the connection's staging table, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per kind moves them into the partitioned
table: first write wins (a retry or a resend stores nothing twice and overwrites nothing),
the statement's row count is what was really stored, and the forwarding trigger sees only
those rows. Measured against multi-row INSERTs and executemany in pipeline mode, this was the
fastest (docs/benchmarks.md, "PostgreSQL store"). The small tables are upserted in key order,
so two ingest processes writing the same counters or devices lock them in the same order
and never deadlock each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import IngestBatch

__all__ = ["KIND_CODE", "PointCache", "write_batch"]

#: the staging table's kind column
KIND_CODE = {kind: i for i, kind in enumerate(Kind)}

Hook = Callable[[psycopg.Connection[Any], IngestBatch], None]
StagedRow = tuple[int, int, int, float | None, str]


def _now_ms() -> int:
    return int(time.time() * 1000)


class PointCache:
    """(device id) -> {(code, sub-field): point id}: points are never renumbered, so a cache
    filled from committed rows stays right; it is dropped after a failed batch, whose
    discovered points were rolled back with it."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.points: dict[int, dict[tuple[str, str], int]] = {}

    def clear(self) -> None:
        self.points.clear()

    def of(self, conn: psycopg.Connection[Any], device_id: int) -> dict[tuple[str, str], int]:
        points = self.points.get(device_id)
        if points is None:
            rows = conn.execute("SELECT id, code, field FROM points WHERE device_id = %s", (device_id,)).fetchall()
            points = {(code, field): int(id_) for id_, code, field in rows}
            self.points[device_id] = points
        return points

    def discover(self, conn: psycopg.Connection[Any], device_id: int, code: str, field: str,
                 points: dict[tuple[str, str], int]) -> int:
        """A point first seen in data, created from the catalogue's template (or found, if
        another process created it meanwhile) inside the batch's transaction."""
        template = self.catalogue.point_template(code, field)
        row = conn.execute(
            "INSERT INTO points (device_id, code, field, name, quantity, unit, discovered, created_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s, 1, %s) "
            "ON CONFLICT (device_id, code, field) DO UPDATE SET code = EXCLUDED.code RETURNING id",
            (device_id, code, field, template.name_zh, template.quantity, template.unit, _now_ms()),
        ).fetchone()
        assert row is not None
        points[(code, field)] = int(row[0])
        return int(row[0])


def staged_rows(conn: psycopg.Connection[Any], batch: IngestBatch, cache: PointCache) -> list[StagedRow]:
    """The batch's readings with their point ids (discovering points as needed), in batch order."""
    out: list[StagedRow] = []
    for item in batch.readings:
        points = cache.of(conn, item.device_id)
        kind = KIND_CODE[item.kind]
        for code, field, ts, value, flag in item.rows:
            point_id = points.get((code, field))
            if point_id is None:
                point_id = cache.discover(conn, item.device_id, code, field, points)
            out.append((kind, point_id, ts, value, flag))
    return out


def insert_readings(conn: psycopg.Connection[Any], rows: list[StagedRow]) -> int:
    """COPY into staging, then into each kind's table, first write winning; the rows stored."""
    if not rows:
        return 0
    kinds = sorted({row[0] for row in rows})
    stored = 0
    with conn.cursor() as cur:
        with cur.copy("COPY forewarn_staging (kind, point_id, ts, value, flag) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int2", "int8", "int8", "float8", "text"])
            for row in rows:
                copy.write_row(row)
        for code in kinds:
            kind = list(Kind)[code]
            # staging is read in the order it was written: of two rows for the same point and
            # time within one batch, the first is kept, as SQLite's INSERT OR IGNORE does
            cur.execute(
                f"INSERT INTO readings_{kind.value} (point_id, ts, value, flag) "
                "SELECT point_id, ts, value, flag FROM forewarn_staging WHERE kind = %s "
                "ON CONFLICT DO NOTHING",
                (code,),
            )
            stored += max(cur.rowcount, 0)
    # the staging table empties itself at commit (ON COMMIT DELETE ROWS) or with a rollback
    return stored


def write_batch(conn: psycopg.Connection[Any], batch: IngestBatch, cache: PointCache, hooks: list[Hook]) -> None:
    """Everything the batch changes, inside the caller's transaction on ``conn``."""
    rows = staged_rows(conn, batch, cache)
    stored = insert_readings(conn, rows)
    with conn.cursor() as cur:
        if batch.quarantine:
            cur.executemany(
                "INSERT INTO quarantine (mn, received_ms, raw, crlf, peer, format) VALUES (%s, %s, %s, %s, %s, %s)",
                [(q.mn, q.received_ms, q.raw, int(q.crlf), q.peer, q.format) for q in batch.quarantine],
            )
        if batch.claimed_quarantine:
            cur.execute("DELETE FROM quarantine WHERE id = ANY(%s)", (sorted(batch.claimed_quarantine),))
        if batch.refused_quarantine:
            cur.executemany(
                "UPDATE quarantine SET refused = %s WHERE id = %s",
                [(reason[:500], i) for i, reason in sorted(batch.refused_quarantine)],
            )
        if batch.rejections:
            merged: dict[str, tuple[int, int, str, str]] = {}
            for rej in batch.rejections:  # one row per reason and statement (ON CONFLICT touches a row once)
                seen = merged.get(rej.reason)
                count = rej.count + (seen[0] if seen else 0)
                merged[rej.reason] = (count, rej.at_ms, rej.mn, rej.detail[:500])
            cur.executemany(
                "INSERT INTO rejections (reason, count, last_ms, last_mn, last_detail) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (reason) DO UPDATE SET count = rejections.count + EXCLUDED.count, "
                "last_ms = EXCLUDED.last_ms, last_mn = EXCLUDED.last_mn, last_detail = EXCLUDED.last_detail",
                [(reason, *cell) for reason, cell in sorted(merged.items())],
            )
        if batch.quirks:
            now = _now_ms()
            cur.executemany(
                "INSERT INTO quirk_usage (device_id, quirk, count, last_ms) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (device_id, quirk) DO UPDATE SET count = quirk_usage.count + EXCLUDED.count, "
                "last_ms = EXCLUDED.last_ms",
                [(d, q, n, now) for (d, q), n in sorted(batch.quirks.items())],
            )
        if batch.activity:
            cur.executemany(
                "INSERT INTO device_activity (device_id, first_ms, last_ms, packets) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (device_id) DO UPDATE SET "
                "first_ms = LEAST(device_activity.first_ms, EXCLUDED.first_ms), "
                "last_ms = GREATEST(device_activity.last_ms, EXCLUDED.last_ms), "
                "packets = device_activity.packets + EXCLUDED.packets",
                [(d, f, last, n) for d, (f, last, n) in sorted(batch.activity.items())],
            )
        if batch.rule_states:
            cur.executemany(
                "INSERT INTO rule_state (rule_id, subject, state) VALUES (%s, %s, %s) "
                "ON CONFLICT (rule_id, subject) DO UPDATE SET state = EXCLUDED.state",
                [(r, s, state) for (r, s), state in sorted(batch.rule_states.items())],
            )
        if batch.packet_clock:
            cur.executemany(
                "INSERT INTO packet_clock (device_id, hour_ms, kind, packets, repeats, skew_min_ms, skew_max_ms, "
                "skew_sum_ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (device_id, hour_ms, kind) DO UPDATE SET "
                "packets = packet_clock.packets + EXCLUDED.packets, repeats = packet_clock.repeats + EXCLUDED.repeats, "
                "skew_min_ms = LEAST(packet_clock.skew_min_ms, EXCLUDED.skew_min_ms), "
                "skew_max_ms = GREATEST(packet_clock.skew_max_ms, EXCLUDED.skew_max_ms), "
                "skew_sum_ms = packet_clock.skew_sum_ms + EXCLUDED.skew_sum_ms",
                [(d, h, k, *cell) for (d, h, k), cell in sorted(batch.packet_clock.items())],
            )
    for hook in hooks:
        hook(conn, batch)
    counters = batch.counters.copy()
    counters["readings_stored"] += stored
    counters["readings_already_stored"] += len(rows) - stored
    changed = sorted((name, value) for name, value in counters.items() if value)
    if changed:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO counters (name, value) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET value = counters.value + EXCLUDED.value",
                changed,
            )
