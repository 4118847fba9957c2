"""The platform's status in figures (``forewarn status``, ``GET /metrics``), read from any connection.

With 10,000 devices these counts (devices online through ``device_activity``, quirks by device,
quarantine) take milliseconds to tens of milliseconds; on the event loop that answers devices,
a Prometheus scrape every few seconds delayed every device's 9014 by as much. Taking the
connection lets ``/metrics`` run it on a reader thread; :meth:`SqliteStore.status` is the same.
"""

from __future__ import annotations

import sqlite3

from forewarn.online import online_sql

__all__ = ["NOT_PACKETS", "platform_status"]

#: rejection reasons that count something other than a whole packet
NOT_PACKETS = frozenset({
    "bad_value", "garbage", "garbage_connection_closed", "frame_too_large", "frame_timeout", "connection_limit",
})


def platform_status(db: sqlite3.Connection, now_ms: int, offline_after_intervals: float) -> dict[str, object]:
    """Devices registered and online, readings and packets counted, rejections, quirks, quarantine."""
    devices = db.execute("SELECT COUNT(*) FROM devices WHERE status = 'active'").fetchone()[0]
    online = db.execute(
        "SELECT COUNT(*) FROM devices d JOIN device_activity a ON a.device_id = d.id "
        "WHERE d.status = 'active' AND "
        + online_sql("a.last_ms", "d.interval_s", now_ms, offline_after_intervals)
    ).fetchone()[0]
    rejections = {
        reason: {"count": count, "last_mn": mn, "last_detail": detail}
        for reason, count, mn, detail in db.execute(
            "SELECT reason, count, last_mn, last_detail FROM rejections ORDER BY count DESC"
        )
    }
    quirks = dict(
        db.execute("SELECT quirk, SUM(count) FROM quirk_usage GROUP BY quirk").fetchall()
    )
    by_device: dict[str, dict[str, int]] = {}
    for mn, quirk, count in db.execute(  # most-used first: the devices worth a look
        "SELECT d.mn, q.quirk, q.count FROM quirk_usage q JOIN devices d ON d.id = q.device_id "
        "ORDER BY SUM(q.count) OVER (PARTITION BY q.device_id) DESC, d.mn, q.count DESC, q.quirk"
    ):
        by_device.setdefault(mn, {})[quirk] = count
    unknown = db.execute("SELECT COUNT(DISTINCT mn), COUNT(*) FROM quarantine").fetchone()
    discovered = db.execute("SELECT COUNT(*) FROM points WHERE discovered = 1").fetchone()[0]
    counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
    return {
        "devices_registered": devices,
        "devices_online": online,
        "devices_offline": devices - online,
        "readings_stored": counters.get("readings_stored", 0),
        "packets_accepted": counters.get("packets_accepted", 0),
        "packets_rejected": sum(
            int(r["count"]) for reason, r in rejections.items() if reason not in NOT_PACKETS
        ),
        "values_rejected": int(rejections.get("bad_value", {}).get("count", 0)),
        "rejections": rejections,
        "quirks_tolerated": quirks,
        "quirks_by_device": by_device,
        "unknown_devices": unknown[0],
        "quarantined_packets": unknown[1],
        "points_discovered": discovered,
    }
