"""Scheduled reports: made at a set time of day into the data directory, and listed.

Every day at ``report_time`` (local, default 01:00) the platform makes yesterday's daily
report, on the 1st last month's monthly, on 1 January last year's annual, for each region of
``report_regions`` (default: each city and each of its districts) and, with
``report_enterprises``, each enterprise; each as XLSX and HTML in ``DATA/reports``. The file
name says what it is (``monthly-region-140200-2026-10.xlsx``), so the folder itself is the
list: a report is made when its files are missing, which also makes up for one the platform
missed while it was down, and a file deleted by hand is made again (once) at the next check.

Generation runs on a reader thread of its own (a city's month takes seconds), never on the
event loop, and never holds the page readers. Listing is :func:`list_reports`, filtered by
the user's scope by the API.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.config import Settings
from forewarn.model import ReportKind
from forewarn.reports.build import ReportError, ReportRequest, build_report
from forewarn.reports.period import ReportPeriod, previous_period
from forewarn.reports.render import FORMATS, render
from forewarn.sites.view import RulesInForce
from forewarn.store.readers import ReaderPool, snapshot
from forewarn.store.report_reads import enterprises_named, enterprises_wholly_in, regions_named, report_regions

__all__ = ["CHECK_EVERY_S", "ReportFile", "ReportScheduler", "due_periods", "list_reports", "make_due_reports",
           "reports_dir", "reports_in_scope"]

log = logging.getLogger(__name__)

#: how often the scheduler looks for reports due (a report is due at most a minute late); the
#: first look is this long after the start too, so that a start is not slowed by a catch-up
CHECK_EVERY_S = 60.0
_NAME = re.compile(r"(?P<kind>daily|monthly|annual)-(?P<type>region|enterprise)-(?P<code>[0-9A-Za-z]+)-"
                   r"(?P<period>\d{4}(?:-\d{2}){0,2})\.(?P<format>xlsx|html)\Z")
_SYSTEM = Scope(Role.CITY_ADMIN)  # the platform makes every report; who may read one is the API's check


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A report on file, as its name says."""

    name: str
    kind: str
    subject_type: str
    #: a region's code or an enterprise's id
    code: str
    period: str
    format: str
    size: int
    modified_ms: int
    #: the region's or enterprise's name (filled by :func:`reports_in_scope`)
    subject_name: str = ""


def reports_in_scope(db: sqlite3.Connection, scope: Scope, folder: Path) -> list[ReportFile]:
    """The reports on file that ``scope`` may read, with their subjects' names.

    A region's report covers every site of the region, so only those who see the whole region
    read it: the city, or the region's (or a region above it's) administrators and auditors;
    an enterprise user reads none (its own enterprise's reports only). An enterprise's report
    is read by its own users and by those who see all of its sites."""
    reach = scope.reach()
    regions = regions_named(db, scope) if reach in ("all", "region") else {}
    named = enterprises_named(db, scope)
    whole = set(named) if reach in ("all", "enterprise") else enterprises_wholly_in(db, scope)
    shown: list[ReportFile] = []
    for f in list_reports(folder):
        if f.subject_type == "region" and f.code in regions:
            shown.append(_named(f, regions[f.code]))
        elif f.subject_type == "enterprise" and f.code.isdigit() and int(f.code) in whole:
            shown.append(_named(f, named[int(f.code)]))
    return shown


def _named(f: ReportFile, name: str) -> ReportFile:
    return ReportFile(f.name, f.kind, f.subject_type, f.code, f.period, f.format, f.size, f.modified_ms, name)


def list_reports(folder: Path) -> list[ReportFile]:
    """The reports in ``folder``, newest period first (files of other names are not reports)."""
    found: list[ReportFile] = []
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        m = _NAME.match(path.name)
        if m is None or not path.is_file():
            continue
        stat = path.stat()
        found.append(ReportFile(path.name, m["kind"], m["type"], m["code"], m["period"], m["format"],
                                stat.st_size, int(stat.st_mtime * 1000)))
    found.sort(key=lambda f: (f.period, f.kind, f.subject_type, f.code, f.format), reverse=True)
    return found


def _minutes_of_day(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def due_periods(now_ms: int, settings: Settings) -> list[ReportPeriod]:
    """The newest period of each kind whose report is due at ``now_ms``: the period ended
    before today's (or this month's, this year's) ``report_time`` passed."""
    if not settings.report_time:
        return []
    shifted = now_ms - _minutes_of_day(settings.report_time) * 60_000
    return [previous_period(kind, shifted, settings.tz) for kind in ReportKind]


def make_due_reports(db: sqlite3.Connection, settings: Settings, now_ms: int,
                     skip: set[str] | None = None, rules: RulesInForce = None) -> list[Path]:
    """Make every report due at ``now_ms`` whose files are missing; the paths written.

    ``skip``: file stems that failed before (not tried again until the platform restarts; a
    failing report is logged once, not every minute)."""
    periods = due_periods(now_ms, settings)
    if not periods:
        return []
    folder = reports_dir(settings)
    subjects: list[tuple[str | None, int | None]] = []
    codes = [c.strip() for c in settings.report_regions.split(",") if c.strip()] or report_regions(db, _SYSTEM)
    subjects += [(code, None) for code in codes]
    if settings.report_enterprises:
        subjects += [(None, eid) for eid in sorted(enterprises_named(db, _SYSTEM))]
    written: list[Path] = []
    for period in periods:
        for region, enterprise in subjects:
            stem = f"{period.kind.value}-{'region' if region else 'enterprise'}-{region or enterprise}-{period.label}"
            if (skip is not None and stem in skip) or all((folder / f"{stem}.{f}").exists() for f in FORMATS):
                continue
            try:
                report = build_report(db, _SYSTEM, ReportRequest(period, region=region, enterprise=enterprise),
                                      now_ms=now_ms, settings=settings, rules=rules)
                folder.mkdir(parents=True, exist_ok=True)
                for fmt in FORMATS:
                    path = folder / f"{stem}.{fmt}"
                    _write(path, render(report, fmt))
                    written.append(path)
            except (ReportError, OSError, sqlite3.Error) as exc:
                log.warning("scheduled report %s not made: %s", stem, exc)
                if skip is not None:
                    skip.add(stem)
    return written


def _write(path: Path, data: bytes) -> None:
    """Through a temporary name: a listing or a download never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class ReportScheduler:
    """Looks for due reports every :data:`CHECK_EVERY_S` and makes them on its own reader thread."""

    def __init__(self, settings: Settings, now_ms: Callable[[], int],
                 rules: Callable[[], RulesInForce] = lambda: None) -> None:
        """``rules``: the rules in force now (for facility running times not kept yet)."""
        self.settings = settings
        self.now_ms = now_ms
        self.rules = rules
        self._readers: ReaderPool | None = None
        self._failed: set[str] = set()

    async def run_once(self) -> list[Path]:
        """One check: the reports made (none when nothing is due)."""
        if not self.settings.report_time:
            return []
        if self._readers is None:
            self._readers = ReaderPool(self.settings.db_path, threads=1)
        now, rules = self.now_ms(), self.rules()
        return await self._readers.run(snapshot(lambda db: make_due_reports(db, self.settings, now, self._failed,
                                                                            rules)))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            try:
                for path in await self.run_once():
                    log.info("scheduled report written: %s", path)
            except asyncio.CancelledError:
                raise
            except Exception:  # a report gone wrong must not end the schedule
                log.exception("scheduled reports failed; trying again in %.0f s", CHECK_EVERY_S)

    def close(self) -> None:
        """Wait for a report being made to finish (call it off the event loop), then close."""
        if self._readers is not None:
            self._readers.close()
            self._readers = None
