"""The PostgreSQL side of a transfer: the schema, the chunks by binary COPY, the progress, the sums.

Each chunk is one transaction: its rows (binary ``COPY``, the fastest way into PostgreSQL) and
the table's new position in ``store_transfer`` commit together, so after a crash the target
holds exactly the chunks its progress says, and a resumed run starts after the last of them:
nothing is copied twice and nothing is skipped. ``store_transfer_run`` keeps the source's
summary (rows and readings checksums) taken when the copy began; a resumed run compares it
with the source's, since a source that changed in between cannot be resumed into.

The copy session runs with ``session_replication_role = replica``. In that role PostgreSQL
fires no ordinary trigger and checks no foreign key. The target's triggers would do harm: the
forwarding outbox's (migration 0022) would enqueue every copied reading again for the
provincial platform, although the source's own outbox rows (copied too) already say what is
still to send; and foreign keys need not be checked for rows a consistent snapshot of a
database that enforced them already holds (the alarms/alarm_groups pair even points both ways).

A readings table is copied without its primary key: keeping a B-tree up to date row by row
took more than half of the copy's time (measured: 1 million rows by binary COPY, 5.3 s into
the table with its key, 2.3 s without), and building it once at the end sorts instead. The key
(its name and definition, as the migrations made it) is dropped with the table's first chunk,
kept in the table's ``store_transfer`` row, and added back in the transaction that marks the
table done; adding it fails if a row were there twice. The month partitions are created before
the rows of their month arrive, named and bounded as the store's ``forewarn_readings_partition``
makes them (so the store finds them), but without a key of their own while the parent has none;
months outside the years the store keeps partitions for go to the DEFAULT partition, as there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import sql

from forewarn.store.postgres.migrate import migrate, migrations
from forewarn.store.postgres.partitions import month_range
from forewarn.store.postgres.sequences import bump_identities
from forewarn.store.transfer.source import DAY_MS, Key, Summary, TransferError

__all__ = ["PostgresTarget", "Progress"]

#: tables the migrations themselves fill (meta's version counters): emptied when the copy
#: starts, since the source's own rows replace them
SEEDED = ("meta",)
#: forewarn's own bookkeeping tables, never "other data"
BOOKKEEPING = ("schema_migrations", "store_transfer", "store_transfer_run")

Progress = dict[str, tuple[Key | None, int, bool]]
#: the months the store makes partitions for (forewarn.store.postgres.partitions): from 2000 to
#: two years ahead; a reading dated elsewhere (a clock at 1970) goes to the DEFAULT partition
_FIRST_MONTH_MS = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp() * 1000)
_AHEAD_MS = 2 * 366 * 86_400_000


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresTarget:
    """A PostgreSQL database (its search_path's first schema) being filled from a source."""

    def __init__(self, url: str) -> None:
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise TransferError(f"cannot connect to PostgreSQL at {_redacted(url)}: {_first_line(exc)}") from None
        schema = self.conn.execute("SELECT current_schema()").fetchone()
        if schema is None or schema[0] is None:
            raise TransferError(f"PostgreSQL at {_redacted(url)} has no schema to create tables in "
                              f"(its search_path names none that exists)")
        self.schema = str(schema[0])
        self._types: dict[str, dict[str, int]] = {}
        self._months: set[tuple[str, int, int]] = set()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ set-up

    def lock(self) -> None:
        """Only one transfer into a schema at a time (held until the connection closes)."""
        row = self.conn.execute("SELECT pg_try_advisory_lock(hashtext('forewarn.transfer:' || current_schema()))")
        got = row.fetchone()
        if not got or not got[0]:
            raise TransferError(f"another 'forewarn store migrate' is copying into schema {self.schema} now")

    def tables(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition")
        return {str(name) for (name,) in rows}

    def check_empty(self, known: Iterable[str]) -> bool:
        """True when a copy into this schema resumes; False when it starts afresh. Refuses a
        schema that holds anything else: another application's tables, or forewarn data that
        did not come from a transfer (a platform that already ran on it)."""
        present = self.tables()
        if "store_transfer_run" in present:
            return True
        if not present:
            return False
        if "schema_migrations" not in present:
            shown = ", ".join(sorted(present)[:5]) + (", ..." if len(present) > 5 else "")
            raise TransferError(f"the target schema {self.schema} holds tables that are not forewarn's ({shown}): "
                              f"migrate into an empty database or schema")
        for table in sorted(present & set(known)):
            if table in SEEDED or table in BOOKKEEPING:
                continue
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
            row = self.conn.execute(query).fetchone()
            if row and row[0]:
                raise TransferError(f"the target schema {self.schema} already holds forewarn data (table {table} "
                                  f"is not empty): migrate only into an empty database or schema")
        return False

    def migrate(self) -> list[str]:
        return migrate(self.conn)

    def versions(self) -> set[int]:
        return {int(v) for (v,) in self.conn.execute("SELECT version FROM schema_migrations")}

    @staticmethod
    def shipped() -> set[int]:
        return {version for version, _, _ in migrations()}

    def replica_role(self) -> None:
        """Fire no trigger and check no foreign key in this session (see the module's text)."""
        try:
            self.conn.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            user = self.conn.info.user
            raise TransferError(
                f"PostgreSQL user {user} may not set session_replication_role, which the copy needs so that "
                f"the target's triggers (the forwarding outbox's) do not fire for copied rows: run as a "
                f"superuser, or GRANT SET ON PARAMETER session_replication_role TO {user}") from None

    def begin(self, source: str, summaries: dict[str, Summary], tables: Sequence[str]) -> None:
        """Record the run and every table's starting position, and empty the seeded tables,
        in one transaction."""
        with self.conn.transaction():
            self.conn.execute(
                "CREATE TABLE store_transfer_run (id INTEGER PRIMARY KEY CHECK (id = 1), source TEXT NOT NULL, "
                "summary TEXT NOT NULL, started_ms BIGINT NOT NULL, finished_ms BIGINT)")
            self.conn.execute(
                "CREATE TABLE store_transfer (table_name TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                "last_key TEXT, rows_copied BIGINT NOT NULL DEFAULT 0, done BOOLEAN NOT NULL DEFAULT false, "
                "dropped_key TEXT, updated_ms BIGINT NOT NULL)")
            now = _now_ms()
            self.conn.execute("INSERT INTO store_transfer_run (id, source, summary, started_ms) VALUES (1, %s, %s, %s)",
                              (source, encode_summaries(summaries), now))
            with self.conn.cursor() as cur:
                # a table the source has no rows of is done from the start
                cur.executemany("INSERT INTO store_transfer (table_name, position, done, updated_ms) "
                                "VALUES (%s, %s, %s, %s)",
                                [(name, i, summaries[name].rows == 0, now) for i, name in enumerate(tables)])
            for table in SEEDED:
                if table in tables:
                    self.conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))

    def run(self) -> tuple[str, dict[str, Summary], int | None]:
        """The recorded run: its source, the source's summary then, and when it finished."""
        row = self.conn.execute("SELECT source, summary, finished_ms FROM store_transfer_run WHERE id = 1").fetchone()
        if row is None:
            raise TransferError(f"the target schema {self.schema} holds an unfinished transfer's tables without its "
                              f"run: drop the schema and start again")
        return str(row[0]), decode_summaries(str(row[1])), None if row[2] is None else int(row[2])

    def progress(self) -> Progress:
        rows = self.conn.execute("SELECT table_name, last_key, rows_copied, done FROM store_transfer")
        return {str(t): (None if k is None else tuple(json.loads(k)), int(n), bool(d)) for t, k, n, d in rows}

    def finish(self) -> None:
        with self.conn.transaction():
            self.conn.execute("UPDATE store_transfer_run SET finished_ms = %s WHERE id = 1", (_now_ms(),))

    # ------------------------------------------------------------------ copy

    def column_types(self, table: str) -> dict[str, int]:
        """Column name -> type oid of ``table`` in the target (binary COPY needs exact types)."""
        if table not in self._types:
            rows = self.conn.execute(
                "SELECT a.attname, a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                "AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped", (table,))
            self._types[table] = {str(name): int(oid) for name, oid in rows}
        return self._types[table]

    def copy_chunk(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]],
                   last_key: Key, *, readings_kind: str | None = None) -> None:
        """Copy ``rows`` into ``table`` and advance its position to ``last_key``, in one transaction."""
        types = self.column_types(table)
        oids = [types[c] for c in columns]
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
        with self.conn.transaction(), self.conn.cursor() as cur:
            if readings_kind is not None:
                self._partitions(cur, readings_kind, rows, columns.index("ts"))
            with cur.copy(statement) as copy:
                copy.set_types(oids)
                for row in rows:
                    copy.write_row(row)
            cur.execute("UPDATE store_transfer SET last_key = %s, rows_copied = rows_copied + %s, updated_ms = %s "
                        "WHERE table_name = %s", (json.dumps(list(last_key)), len(rows), _now_ms(), table))

    def _partitions(self, cur: psycopg.Cursor[Any], kind: str, rows: Sequence[Sequence[object]], ts_at: int) -> None:
        """Create the month partitions this chunk's readings fall in before they are copied, so
        that rows land in their month, not in the DEFAULT partition that the store's first write
        of the month would then have to empty."""
        days = set(map(DAY_MS.__rfloordiv__, map(itemgetter(ts_at), rows)))  # C loops: a chunk is 50,000 rows
        limit = _now_ms() + _AHEAD_MS
        months = {month_range(day * DAY_MS) for day in days}
        wanted = {(kind, lo, hi) for lo, hi in months if lo >= _FIRST_MONTH_MS and lo < limit} - self._months
        for _, lo, hi in sorted(wanted):
            parent = f"readings_{kind}"
            child = f"{parent}_{datetime.fromtimestamp(lo / 1000, UTC):%Y_%m}"
            cur.execute("SELECT to_regclass(%s)", (child,))
            found = cur.fetchone()
            if found is None or found[0] is None:
                cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                    sql.Identifier(child), sql.Identifier(parent)))
                cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(parent), sql.Identifier(child), sql.Literal(lo), sql.Literal(hi)))
        self._months |= wanted

    def drop_key(self, table: str) -> None:
        """Drop ``table``'s primary key for the copy, keeping its definition (see the module's text)."""
        with self.conn.transaction():
            found = self.conn.execute(
                "SELECT k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname = %s "
                "AND k.contype = 'p'", (table,)).fetchone()
            if found is None:
                return  # dropped by the interrupted run already (its definition is kept)
            name, definition = str(found[0]), str(found[1])
            self.conn.execute("UPDATE store_transfer SET dropped_key = %s WHERE table_name = %s",
                              (json.dumps([name, definition]), table))
            self.conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)))

    def mark_done(self, table: str) -> None:
        """``table`` is copied: its primary key (if the copy dropped it) is built, in the same
        transaction as the mark."""
        with self.conn.transaction():
            row = self.conn.execute("SELECT dropped_key FROM store_transfer WHERE table_name = %s", (table,)).fetchone()
            if row is not None and row[0] is not None:
                name, definition = json.loads(row[0])
                try:
                    self.conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                        sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)))
                except psycopg.errors.UniqueViolation as exc:
                    raise TransferError(f"{table} holds a row twice after the copy ({_first_line(exc)}): "
                                        f"drop the target's schema and start again") from None
            self.conn.execute("UPDATE store_transfer SET done = true, dropped_key = NULL, updated_ms = %s "
                              "WHERE table_name = %s", (_now_ms(), table))

    # ------------------------------------------------------------------ after the copy

    def bump_sequences(self, handed_out: dict[str, int]) -> None:
        """Move every identity past the copied ids, and past the ids an AUTOINCREMENT table of the
        source ever handed out (``handed_out``: table -> SQLite's sqlite_sequence)."""
        with self.conn.transaction():
            bump_identities(self.conn)
            for table, seq in handed_out.items():
                if seq <= 0 or "id" not in self.column_types(table):
                    continue
                row = self.conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()
                if row is None or row[0] is None:
                    continue
                state = self.conn.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
                    sql.SQL(str(row[0])))).fetchone()
                used = int(state[0]) if state and state[1] else 0
                if seq > used:
                    self.conn.execute("SELECT setval(%s, %s, true)", (str(row[0]), seq))

    def summary(self, table: str, *, readings: bool) -> Summary:
        name = sql.Identifier(table)
        if readings:
            row = self.conn.execute(sql.SQL(
                "SELECT count(*), coalesce(sum(point_id), 0), coalesce(sum(ts / {day}), 0), "
                "coalesce(sum(ts % {day}), 0), coalesce(sum(value), 0) FROM {t}").format(
                    t=name, day=sql.Literal(DAY_MS))).fetchone()
            assert row is not None
            return Summary(int(row[0]), (int(row[1]), int(row[2]), int(row[3]), float(row[4])))
        row = self.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
        assert row is not None
        return Summary(int(row[0]))


def encode_summaries(summaries: dict[str, Summary]) -> str:
    return json.dumps({t: [s.rows, None if s.checksum is None else list(s.checksum)] for t, s in summaries.items()},
                      sort_keys=True)


def decode_summaries(text: str) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for table, (rows, checksum) in json.loads(text).items():
        out[table] = Summary(int(rows), None if checksum is None else
                             (int(checksum[0]), int(checksum[1]), int(checksum[2]), float(checksum[3])))
    return out


def _redacted(url: str) -> str:
    """The URL without a password, for messages."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{head}://{user}@{host}"


def _now_ms() -> int:
    return int(time.time() * 1000)
