"""One transfer from start to verification: the order of the steps and what each may refuse.

1. The source is opened (refused while another process has it open) and read in one snapshot.
2. The target is locked for this run, checked (empty, or holding an earlier run of this same
   source), brought to the schema version of the source with the PostgreSQL migrations.
3. Every table's rows are counted (readings also summed) in the snapshot: the progress bar's
   totals, what a resumed run must find unchanged, and what the copy is verified against.
4. Tables are copied in dependency order, chunk by chunk (each chunk committed with its
   position), then the identity sequences are moved past the copied ids.
5. The target's rows are counted and summed again; any difference is an error naming the table.
   Only a verified copy is marked finished: run again, it says it is done.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from forewarn.store.transfer.prefetch import read_ahead
from forewarn.store.transfer.source import SourceTable, SqliteSource, Summary, TransferError, holders, in_use_message
from forewarn.store.transfer.target import PostgresTarget

__all__ = ["Interrupted", "Observer", "TableCheck", "TransferReport", "transfer"]

DEFAULT_CHUNK_ROWS = 50_000


class Interrupted(Exception):
    """Raised after ``stop_after_chunks`` chunks were committed (tests stop a run midway)."""


class Observer:
    """What a transfer tells whoever shows its progress; by default nothing is shown."""

    def phase(self, text: str) -> None:
        """A step without a bar (opening, counting, verifying)."""

    def start(self, totals: dict[str, int], copied: dict[str, int]) -> None:
        """The copy begins: rows per table in the source, and rows already copied earlier."""

    def advance(self, table: str, rows: int) -> None:
        """One chunk of ``table`` is committed."""


@dataclass(frozen=True)
class TableCheck:
    """One table's verification: the source's snapshot against the target after the copy."""

    table: str
    source: Summary
    target: Summary

    @property
    def ok(self) -> bool:
        if self.source.rows != self.target.rows:
            return False
        if self.source.checksum is None or self.target.checksum is None:
            return self.source.checksum == self.target.checksum
        *exact_s, value_s = self.source.checksum
        *exact_t, value_t = self.target.checksum
        # the value sum is of floats added in another order: equal to rounding, not to the bit
        return exact_s == exact_t and math.isclose(value_s, value_t, rel_tol=1e-9, abs_tol=1e-6)


@dataclass
class TransferReport:
    source: Path
    already_done: bool = False
    migrations: list[str] = field(default_factory=list)
    resumed: bool = False
    #: rows copied by this run (a resumed run does not count what an earlier one copied)
    rows_copied: int = 0
    copy_seconds: float = 0.0
    checks: list[TableCheck] = field(default_factory=list)
    #: tables whose source rows changed since the target's copy was finished (already_done only)
    changed_since: list[str] = field(default_factory=list)


def transfer(source_path: Path, target_url: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
             observer: Observer | None = None, stop_after_chunks: int | None = None,
             overlap: bool = True) -> TransferReport:
    """Copy the embedded installation at ``source_path`` into the PostgreSQL at ``target_url``.

    ``overlap`` reads the next chunks in a thread while one is written (off: one after the
    other, for the benchmark's comparison)."""
    if chunk_rows < 1:
        raise TransferError(f"chunk rows must be at least 1, not {chunk_rows}")
    show = observer or Observer()
    report = TransferReport(source_path.resolve())
    show.phase("opening the source")
    source = SqliteSource(source_path)
    try:
        target = PostgresTarget(target_url)
        try:
            _run(source, target, report, show, chunk_rows, stop_after_chunks, overlap)
        finally:
            target.close()
    finally:
        source.close()
    return report


def _run(source: SqliteSource, target: PostgresTarget, report: TransferReport, show: Observer,
         chunk_rows: int, stop_after_chunks: int | None, overlap: bool) -> None:
    target.lock()
    names = [t.name for t in source.tables]
    report.resumed = target.check_empty(names)
    _check_versions(source, target)
    show.phase("applying the PostgreSQL migrations")
    report.migrations = target.migrate()
    _check_tables(source.tables, target)
    show.phase("counting the source's rows")
    summaries = {t.name: source.summary(t) for t in source.tables}
    if report.resumed:
        recorded_source, recorded, finished = target.run()
        if finished is not None:
            report.already_done = True
            report.changed_since = [t for t in names if recorded.get(t) != summaries[t]]
            return
        _check_unchanged(recorded_source, recorded, summaries)
    else:
        target.begin(str(report.source), summaries, names)
    target.replica_role()
    progress = target.progress()
    show.start({t: s.rows for t, s in summaries.items()}, {t: p[1] for t, p in progress.items()})
    chunks = 0
    started = time.perf_counter()
    for table in source.tables:
        after, _, done = progress[table.name]
        if done:
            continue
        kind = table.name.removeprefix("readings_") if table.is_readings else None
        if kind is not None and summaries[table.name].rows > 0:
            target.drop_key(table.name)  # built once at the end: see forewarn.store.transfer.target
        with read_ahead(source.chunks(table, after, chunk_rows), depth=2 if overlap else 0) as chunks_of_table:
            for rows, last_key in chunks_of_table:
                target.copy_chunk(table.name, table.columns, rows, last_key, readings_kind=kind)
                report.rows_copied += len(rows)
                show.advance(table.name, len(rows))
                chunks += 1
                if stop_after_chunks is not None and chunks >= stop_after_chunks:
                    raise Interrupted(f"stopped after {chunks} chunks")
        if kind is not None:
            show.phase(f"building the key of {table.name}")
        target.mark_done(table.name)
    report.copy_seconds = time.perf_counter() - started
    target.bump_sequences({t.name: source.sequence(t.name) for t in source.tables})
    show.phase("verifying")
    report.checks = [TableCheck(t.name, summaries[t.name], target.summary(t.name, readings=t.is_readings))
                     for t in source.tables]
    wrong = [c for c in report.checks if not c.ok]
    if wrong:
        shown = "; ".join(f"{c.table}: {c.source.rows} rows in the source, {c.target.rows} in the target"
                          + ("" if c.source.rows != c.target.rows else " (their sums differ)") for c in wrong)
        raise TransferError(f"the copy does not match the source: {shown}")
    pids = holders(source.path)
    if pids:  # it may have written after the snapshot: those rows are not in the copy
        raise TransferError("during the copy, " + in_use_message(source.path, pids)
                            + " (the copy resumes only from an unchanged source: else drop the target's schema)")
    target.finish()


def _check_versions(source: SqliteSource, target: PostgresTarget) -> None:
    shipped = target.shipped()
    unknown = sorted(source.versions - shipped)
    if unknown:
        raise TransferError(f"{source.path} has schema migrations this forewarn's PostgreSQL schema lacks "
                            f"({', '.join(map(str, unknown))}): use the forewarn version that wrote it")
    missing = sorted(shipped - source.versions)
    if missing:
        raise TransferError(f"{source.path} lacks schema migrations {', '.join(map(str, missing))}: open it once "
                            f"with this forewarn ('forewarn status --data DIR' applies them), then run again")


def _check_tables(tables: list[SourceTable], target: PostgresTarget) -> None:
    present = target.tables()
    for table in tables:
        if table.name not in present:
            raise TransferError(f"the target has no table {table.name} "
                                f"(its PostgreSQL schema and the SQLite one differ)")
        columns = target.column_types(table.name)
        lacking = [c for c in table.columns if c not in columns]
        if lacking:
            raise TransferError(f"the target's table {table.name} has no column {', '.join(lacking)} "
                                f"(its PostgreSQL schema and the SQLite one differ)")


def _check_unchanged(recorded_source: str, recorded: dict[str, Summary], now: dict[str, Summary]) -> None:
    """A resumed copy is right only if the source is the one the first run began to copy."""
    changed = []
    for table in sorted(set(recorded) | set(now)):
        then, current = recorded.get(table), now.get(table)
        if then != current:
            changed.append(f"{table} had {then.rows} rows then and has {current.rows} now" if then and current
                           else f"table {table} is new or gone")
    if changed:
        raise TransferError(f"the source changed since the interrupted copy from {recorded_source} began "
                            f"({'; '.join(changed)}): it cannot be resumed; drop the target's schema and start again")
