"""The SQLite side of a transfer: one read snapshot of an embedded installation, table by table.

The copy must be of one moment: a reading and the alarm it raised, a user and their sessions.
SQLite in WAL mode gives a reader a snapshot for as long as its read transaction lasts, so the
source is opened read-only and one ``BEGIN`` is held from the first count to the last chunk.
Tables are read in key order with one statement each (``fetchmany`` per chunk), starting after
the last key a previous, interrupted run committed: the rowid for ordinary tables (it is the
id where a table has an ``INTEGER PRIMARY KEY``, and exists where a table has no key at all,
like ``alarm_evidence``), the primary key's columns for ``WITHOUT ROWID`` tables.

A running platform keeps writing after the snapshot, and what it wrote would be missing from
the copy, so :func:`holders` finds any other process that has the file open. Every SQLite
connection to a WAL database holds a shared POSIX lock on one byte of the ``-shm`` file (the
"DMS" byte, offset 128) for as long as it is open; asking the kernel which lock would conflict
with an exclusive one there names such a process and its pid, without touching the database.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TransferError", "SourceTable", "SqliteSource", "Summary", "holders"]

Key = tuple[object, ...]
Row = tuple[object, ...]
#: the day in ms: the readings checksum sums ts as (day number, ms within the day), because a
#: plain SUM(ts) of ten million epoch-ms values overflows a 64-bit integer
DAY_MS = 86_400_000
_DMS_BYTE = 128  # SQLite's unix VFS: UNIX_SHM_BASE (120) + SQLITE_SHM_NLOCK (8)


class TransferError(Exception):
    """A transfer cannot go on: a source or target that cannot be used, or a copy that does not
    verify; the message is one line that says why and what to do."""


@dataclass(frozen=True)
class Summary:
    """What verification compares: rows, and for readings a checksum of every column."""

    rows: int
    #: readings only: (sum of point_id, sum of ts // day, sum of ts % day, sum of value)
    checksum: tuple[int, int, int, float] | None = None


@dataclass(frozen=True)
class SourceTable:
    """One table as the copy sees it."""

    name: str
    columns: tuple[str, ...]
    #: the columns the chunks are ordered and resumed by (``("rowid",)`` for rowid tables)
    key: tuple[str, ...]
    #: tables its foreign keys point at (itself excluded)
    references: frozenset[str]

    @property
    def key_in_row(self) -> bool:
        """True when the key is among the copied columns (else it is read in front of them)."""
        return self.key != ("rowid",)

    @property
    def is_readings(self) -> bool:
        return self.name.startswith("readings_")


def quote(name: str) -> str:
    """An identifier quoted for both SQLite and PostgreSQL (``"offset"`` is a column name)."""
    return '"' + name.replace('"', '""') + '"'


def holders(path: Path) -> list[int]:
    """The pids of other processes that have the SQLite database at ``path`` open (WAL mode)."""
    shm = Path(f"{path}-shm")
    try:
        fd = os.open(shm, os.O_RDONLY)
    except FileNotFoundError:
        return []  # no connection has the database open in WAL mode
    except OSError as exc:
        raise TransferError(f"cannot check whether a platform uses {path}: {exc.strerror}: {shm}") from None
    try:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (native layout)
        probe = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, _DMS_BYTE, 1, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
        kind, _, _, _, pid = struct.unpack("hhqqi", answer)
    finally:
        os.close(fd)
    return [] if kind == fcntl.F_UNLCK else [pid]


def in_use_message(path: Path, pids: list[int]) -> str:
    who = ", ".join(str(p) for p in pids)
    return (f"{path} is open in another process (pid {who}): a running platform or another forewarn command; "
            f"stop it first (Ctrl-C where 'forewarn serve' runs, or kill -TERM {pids[0]}), then run again")


class SqliteSource:
    """A read-only snapshot of an embedded installation's database."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise TransferError(f"no SQLite database at {path}")
        pids = holders(path)
        if pids:
            raise TransferError(in_use_message(path, pids))
        self.path = path
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("BEGIN")  # the snapshot: every read below sees this one moment
            versions = {int(v) for (v,) in self.db.execute("SELECT version FROM schema_migrations")}
        except sqlite3.DatabaseError as exc:
            raise TransferError(f"{path} is not a forewarn database ({exc})") from None
        #: the schema migrations applied to the source (the target must have the same)
        self.versions = versions
        self.tables = self._tables()

    def close(self) -> None:
        self.db.close()

    def _tables(self) -> list[SourceTable]:
        tables = []
        listed = self.db.execute(
            "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name").fetchall()
        for name, without_rowid in listed:
            info = self.db.execute(f"PRAGMA table_info({quote(name)})").fetchall()
            columns = tuple(str(row[1]) for row in info)
            pk = tuple(str(row[1]) for row in sorted((r for r in info if r[5]), key=lambda r: r[5]))
            refs = {str(row[2]) for row in self.db.execute(f"PRAGMA foreign_key_list({quote(name)})")}
            key = pk if without_rowid else ("rowid",)
            tables.append(SourceTable(name, columns, key, frozenset(refs - {name})))
        return dependency_order(tables)

    def summary(self, table: SourceTable) -> Summary:
        """Row count (and the readings checksum) of ``table`` in the snapshot."""
        if table.is_readings:
            row = self.db.execute(
                f"SELECT count(*), coalesce(sum(point_id), 0), coalesce(sum(ts / {DAY_MS}), 0), "
                f"coalesce(sum(ts % {DAY_MS}), 0), total(value) FROM {quote(table.name)}").fetchone()
            return Summary(int(row[0]), (int(row[1]), int(row[2]), int(row[3]), float(row[4])))
        (rows,) = self.db.execute(f"SELECT count(*) FROM {quote(table.name)}").fetchone()
        return Summary(int(rows))

    def sequence(self, table: str) -> int:
        """The highest id ever handed out for an AUTOINCREMENT table (0 if none): ids of rows
        deleted since (a forwarding outbox's delivered rows) must not be handed out again."""
        try:
            row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        except sqlite3.OperationalError:  # no AUTOINCREMENT table at all
            return 0
        return int(row[0]) if row else 0

    def chunks(self, table: SourceTable, after: Key | None, size: int) -> Iterator[tuple[list[Row], Key]]:
        """The rows after key ``after`` in key order, ``size`` at a time, each with its last key.

        Rows hold the table's columns only (a rowid read for ordering is cut off)."""
        cols = ", ".join(quote(c) for c in table.columns)
        key = ", ".join("rowid" if k == "rowid" else quote(k) for k in table.key)
        select = cols if table.key_in_row else f"rowid, {cols}"
        sql = f"SELECT {select} FROM {quote(table.name)}"
        params: tuple[object, ...] = ()
        if after is not None:
            sql += f" WHERE ({key}) > ({', '.join('?' for _ in table.key)})"
            params = tuple(after)
        sql += f" ORDER BY {key}"
        at = [table.columns.index(k) for k in table.key] if table.key_in_row else [0]
        cursor = self.db.execute(sql, params)
        while True:
            rows = cursor.fetchmany(size)
            if not rows:
                return
            last = rows[-1]
            last_key = tuple(last[i] for i in at)
            if not table.key_in_row:
                rows = [row[1:] for row in rows]
            yield rows, last_key


def dependency_order(tables: list[SourceTable]) -> list[SourceTable]:
    """Tables ordered so that each comes after those its foreign keys point at (by name among
    equals). A cycle (alarms.group_id and alarm_groups.cause_alarm_id point at each other) is
    broken at the first table of it by name: the target checks no foreign key during the copy."""
    by_name = {t.name: t for t in tables}
    placed: list[SourceTable] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(table: SourceTable) -> None:
        if table.name in done or table.name in visiting:
            return
        visiting.add(table.name)
        for ref in sorted(table.references):
            if ref in by_name:
                visit(by_name[ref])
        visiting.discard(table.name)
        done.add(table.name)
        placed.append(table)

    for table in sorted(tables, key=lambda t: t.name):
        visit(table)
    return placed
