"""What the HTTP handlers need from a running platform, handed to them by dependency injection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from forewarn.access.ratelimit import LoginRateLimiter
from forewarn.alarms.records import AlarmRecorder
from forewarn.cameras.snapshots import SnapshotTaker
from forewarn.config import Settings
from forewarn.forward.service import Forwarding
from forewarn.ingest.pipeline import Pipeline
from forewarn.live.hub import LiveHub
from forewarn.reports.cache import FigureCache
from forewarn.rules.catalog import RuleCatalog
from forewarn.rules.model import RuleSet
from forewarn.store.readers import ReaderPool
from forewarn.store.sqlite import SqliteStore
from forewarn.store.writer import BatchWriter

__all__ = ["ApiContext"]


@dataclass(frozen=True)
class ApiContext:
    """The platform's parts, as the web layer sees them (all used on the event loop thread)."""

    settings: Settings
    pipeline: Pipeline
    #: the read connection (the pipeline's): queries only, never a write
    store: SqliteStore
    #: the single writer, for work that writes (such as noting when a token was used)
    writer: BatchWriter[SqliteStore]
    #: how many HJ 212 connections are open now
    hj212_connections: Callable[[], int]
    #: when each token's use was last noted (ms): noted at most once a minute, because every
    #: writer job ends the writer's group commit
    token_noted: dict[str, int] = field(default_factory=dict)
    #: reader threads for long queries (a year-long series), so the event loop is not held
    readers: ReaderPool | None = None
    #: password checks running now, per name and per address: the limiter counts a failure only
    #: when its check ends, so checks running side by side must be bounded, or a burst of
    #: parallel guesses would all be tried before the first failure is counted
    checks_in_flight: dict[str, int] = field(default_factory=dict)
    #: failed logins per name and address (in memory: a restart forgets them)
    limiter: LoginRateLimiter = field(default_factory=LoginRateLimiter)
    #: the figures of reports of closed periods, kept a few minutes (reports/cache.py)
    report_figures: FigureCache = field(default_factory=FigureCache)
    #: the recorder that announces alarm handling steps to the notification outbox (None: rules off)
    recorder: Callable[[], AlarmRecorder | None] = lambda: None
    #: the live stream's hub (None: no live stream in this process)
    live: LiveHub | None = None
    #: the engine's rule set and registry view, asked on each use (None: rules are off); the
    #: site page shows the limits and equipment the engine judges by (rules/limits.py)
    rules: Callable[[], tuple[RuleSet, RuleCatalog] | None] = lambda: None
    #: the cameras' snapshot taker: the dashboard's snapshot proxy and the live views' origins (None: none)
    cameras: SnapshotTaker | None = None
    #: forwarding upward (forward.toml): its targets' status (None: not in this process)
    forwarding: Forwarding | None = None
