"""GET /api/v1/health and GET /metrics (Prometheus text format, written by hand).

Neither needs a token: health is for load balancers, metrics for a Prometheus on the
intranet (put the API behind a proxy that hides /metrics if it faces the internet).
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency

from forewarn import __version__
from forewarn.alarms.queries import alarm_summary
from forewarn.latency import Histogram
from forewarn.store.status_reads import platform_status
from forewarn.web.context import ApiContext
from forewarn.web.reads import read

__all__ = ["health", "metrics"]

_PROMETHEUS_TEXT = "text/plain; version=0.0.4"  # Litestar adds the charset


@get("/api/v1/health", tags=["operations"], summary="Is the platform up", sync_to_thread=False)
def health(ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Answers as long as the platform runs; also says how many HJ 212 connections are open."""
    return {
        "status": "ok",
        "version": __version__,
        "hj212_connections": ctx.hj212_connections(),
        "devices_registered": len(ctx.pipeline.devices),
    }


def _escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _n(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


class _Text:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def histogram(self, name: str, help: str, hist: Histogram) -> None:
        samples = [(f'_bucket{{le="{le}"}}', float(n)) for le, n in hist.cumulative()]
        samples += [("_sum", hist.sum), ("_count", float(hist.count))]
        self.lines.append(f"# HELP {name} {help}")
        self.lines.append(f"# TYPE {name} histogram")
        self.lines.extend(f"{name}{suffix} {value:g}" for suffix, value in samples)

    def metric(self, name: str, kind: str, help: str, samples: list[tuple[str, float]]) -> None:
        self.lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
        self.lines += [f"{name}{labels} {value:g}" for labels, value in samples]


@get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=True)
async def metrics(ctx: NamedDependency[ApiContext]) -> Response[str]:
    """Readings stored, packets accepted and rejected by reason, devices, connections, alarms open."""
    # counted on a reader thread: with 10,000 devices a scrape took 5-10 ms of the event loop
    now_ms = ctx.pipeline.now_ms()
    factor = ctx.settings.offline_after_intervals
    status, alarms = await read(ctx, lambda db: (platform_status(db, now_ms, factor), alarm_summary(db)))
    rejections = status["rejections"]
    assert isinstance(rejections, dict)
    t = _Text()
    t.metric("forewarn_readings_stored_total", "counter", "readings committed to the store",
             [("", _n(status["readings_stored"]))])
    t.metric("forewarn_packets_accepted_total", "counter", "packets and HTTP posts whose data was stored",
             [("", _n(status["packets_accepted"]))])
    t.metric("forewarn_rejections_total", "counter",
             "packets refused by reason (bad_value counts single values refused)",
             [(f'{{reason="{_escape(reason)}"}}', _n(r["count"])) for reason, r in sorted(rejections.items())])
    t.metric("forewarn_quarantined_packets", "gauge", "packets of unregistered devices waiting in quarantine",
             [("", _n(status["quarantined_packets"]))])
    t.metric("forewarn_devices_registered", "gauge", "active devices in the registry",
             [("", _n(status["devices_registered"]))])
    t.metric("forewarn_devices_online", "gauge", "devices heard within their reporting interval",
             [("", _n(status["devices_online"]))])
    t.metric("forewarn_hj212_connections", "gauge", "open HJ 212 TCP connections",
             [("", float(ctx.hj212_connections()))])
    t.metric("forewarn_alarms_open", "gauge", "alarms not closed", [("", float(alarms.get("alarms_open", 0)))])
    t.metric("forewarn_writer_queue_depth", "gauge", "batches and jobs waiting for the store's writer",
             [("", float(ctx.writer.queue_depth()))])
    t.histogram("forewarn_store_commit_seconds", "time to commit one transaction of readings (store latency)",
                ctx.writer.commit_seconds)
    t.metric("forewarn_notices_pending", "gauge", "alarm notices waiting to be delivered",
             [("", float(alarms.get("notices_pending", 0)))])
    t.metric("forewarn_live_subscribers", "gauge", "open live stream subscriptions (WebSocket and SSE)",
             [("", float(ctx.live.subscriber_count() if ctx.live is not None else 0))])
    t.metric("forewarn_live_dropped_total", "counter", "live stream clients dropped for falling behind",
             [("", float(ctx.live.dropped_total if ctx.live is not None else 0))])
    return Response("\n".join(t.lines) + "\n", media_type=_PROMETHEUS_TEXT)
