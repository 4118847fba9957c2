"""Settings: one typed object, read from an optional TOML file, with defaults and help text.

Each setting is declared once, with its help, so that ``forewarn.toml`` can be checked
(unknown keys are a user's mistake and get one clear line) and documented from the same place.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ConfigError", "Settings", "load_settings"]


class ConfigError(Exception):
    """A mistake in the settings file or options, worded for the person who made it."""


def _setting(default: Any, help: str, low: float | None = None, high: float | None = None) -> Any:
    """A setting with its help text and, for numbers, the range a valid value lies in."""
    return field(default=default, metadata={"help": help, "low": low, "high": high})


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = _setting(Path("forewarn-data"), "directory holding the database")
    timezone: str = _setting(
        "Asia/Shanghai", "time zone of the devices' clocks (HJ 212 times are local)"
    )
    hj212_host: str = _setting("0.0.0.0", "address the HJ 212 TCP server listens on")
    hj212_port: int = _setting(8212, "port of the HJ 212 TCP server (0: any free port)", 0, 65535)
    http_host: str = _setting("0.0.0.0", "address the HTTP API (/api/v1, /metrics) listens on")
    http_port: int = _setting(8000, "port of the HTTP API (0: any free port)", 0, 65535)
    idle_timeout_s: float = _setting(
        600.0, "close a device connection silent for this long (devices reconnect)", 0.1, None
    )
    max_frame_bytes: int = _setting(
        8192, "largest frame accepted; a peer sending more without a frame end is cut off", 1100, None
    )
    max_garbage_bytes: int = _setting(
        4096, "close a device connection after this many bytes outside frames and of refused frames since "
        "its last good frame", 0, None
    )
    frame_timeout_s: float = _setting(
        30.0, "close a device connection whose frame is not complete this long after its first byte (a frame "
        "complete by its length is then taken without its CRLF)", 0.5, None
    )
    hj212_strict: int = _setting(
        0, "1: accept an HJ 212 frame's known deviations (lowercase CRC, 13-digit QN, DataTime with "
        "milliseconds...) only from devices whose leniency lists them; 0: the tolerant default, which accepts "
        "every deviation that leaves the frame's CRC verified and its values readable (a device's leniency "
        "word 'strict' makes that one device strict)", 0, 1
    )
    max_connections: int = _setting(
        0, "most device connections the HJ 212 port holds; more are closed at once and counted as "
        "connection_limit (0: as many as the open-file limit leaves after the HTTP port's; lowered at start "
        "when the limit is smaller)", 0, None
    )
    max_connections_per_peer: int = _setting(
        256, "most device connections from one address; raise it when many devices share one address "
        "(a carrier's NAT, a private APN) (0: no limit)", 0, None
    )
    max_unstored_per_connection: int = _setting(
        64, "a device connection with this many batches not yet stored is not read until half are", 1, None
    )
    writer_queue_max: int = _setting(
        10000, "batches waiting for the writer beyond which a connection that sends more is not read until "
        "its own are stored (backpressure)", 1, None
    )
    http_max_connections: int = _setting(
        1000, "HTTP connections and requests at once; more are answered 503 (lowered at start when the "
        "open-file limit is smaller)", 1, None
    )
    http_request_timeout_s: float = _setting(
        30.0, "close an HTTP connection whose request (headers and body) is not all received this long "
        "after it began; answered 408", 1, None
    )
    batch_max_rows: int = _setting(20000, "most readings committed in one transaction", 1, None)
    future_tolerance_s: float = _setting(
        86400.0, "refuse data whose DataTime is further than this ahead of the platform's clock",
        0, None,
    )
    quarantine_max_packets: int = _setting(
        200000, "most packets kept for unregistered devices; beyond it they are refused", 0, None
    )
    offline_after_intervals: float = _setting(
        3.0, "a device is offline when silent for this many reporting intervals", 0.5, None
    )
    stats_assessment_line: float = _setting(
        0.9, "the line the effective transmission rate is assessed against (DOMAIN.md §4: >= 90 %)", 0, 1
    )
    rules_dir: str = _setting(
        "", "folder of your own rule files (*.toml), read after the presets (default DATA/rules)"
    )
    notify_file: str = _setting(
        "", "notification channels and routes (default DATA/notify.toml; none if missing)"
    )
    calendar_file: str = _setting(
        "", "heavy-pollution emergency periods and measures (default DATA/calendar.toml)"
    )
    rules_enabled: int = _setting(1, "judge data against the rules (0 to switch the engine off)", 0, 1)
    late_after_s: float = _setting(
        1800.0, "data older than this when it arrives is late (backfill): recorded, not announced", 0, None
    )
    judge_ahead_s: float = _setting(
        300.0, "readings dated further ahead of the platform's clock are stored but not judged by the rules", 0, None
    )
    checkpoint_s: float = _setting(
        5.0, "how often the rule engine's running state is stored (decisions are stored at once)", 0.05, None
    )
    ack_within_s: float = _setting(
        900.0, "an alarm nobody acknowledges within this is escalated one level", 1, None
    )
    close_within_s: float = _setting(
        259200.0, "an alarm not closed within this (default 3 days) is overdue", 1, None
    )
    session_ttl_s: float = _setting(
        43200.0, "a dashboard session ends this long after login (default 12 h)", 60, None
    )
    screen_session_ttl_s: float = _setting(
        2_592_000.0, "a control-room screen's read-only session (login with 'screen' ticked) ends this long after "
        "login (default 30 days); it is not ended by being idle", 60, None
    )
    session_idle_s: float = _setting(
        7200.0, "a dashboard session ends when unused this long (default 2 h)", 60, None
    )
    cookie_secure: int = _setting(
        1, "send the session cookie only over HTTPS (0 only for a plain-HTTP intranet without TLS)", 0, 1
    )
    registry_poll_s: float = _setting(
        2.0, "how often a running server looks for registry changes made by other commands", 0.05, None
    )
    aggregation_enabled: int = _setting(
        1, "compute forewarn's own minute, hour, day and month values from real-time data in the background "
        "(0 to switch it off)", 0, 1
    )
    aggregate_every_s: float = _setting(
        5.0, "how often the minutes that new or late real-time data touched are computed again", 0.05, None
    )
    hour_valid_minutes: int = _setting(
        45, "an hour is valid with at least this many valid minutes (DOMAIN.md section 4 [inf]; some platforms "
        "use 54)", 1, 60
    )
    day_valid_hours: int = _setting(
        20, "a day is valid with at least this many valid hours (GB 3095-2012, 24-hour means [sec])", 1, 24
    )
    month_valid_days: int = _setting(
        27, "a month is valid with at least this many valid days (GB 3095-2012, monthly means [sec])", 1, 31
    )
    month_valid_days_february: int = _setting(
        25, "a February is valid with at least this many valid days (GB 3095-2012 [sec])", 1, 29
    )
    flag_n_share: float = _setting(
        0.75, "an aggregate is flagged N when at least this share of its values are valid (N and not marked "
        "invalid in audit); otherwise it takes its values' most common other flag (HJ 212 gas factors [std])",
        0.0, 1.0
    )
    mismatch_relative: float = _setting(
        0.05, "a device's own minute/hour/day Avg, Min or Max differs from forewarn's when further apart than "
        "mismatch_absolute + this share of the device's value", 0.0, None
    )
    mismatch_absolute: float = _setting(
        0.001, "the absolute part of the mismatch tolerance (in the factor's unit)", 0.0, None
    )
    rtd_retention_days: int = _setting(
        0, "delete real-time data older than this many days, in small background batches, once its minutes "
        "are computed (aggregates and device-reported minute/hour/day data are kept); 0: keep it forever", 0, None
    )
    camera_timeout_s: float = _setting(
        5.0, "a camera that gives no snapshot within this is noted in the alarm's evidence as not answering "
        "(the alarm itself never waits for it)", 0.5, 60
    )
    screening_hour: int = _setting(
        2, "local hour (0-23) after which the daily screening for doubtful data looks at the day before "
        "(its thresholds: data/screening.csv, overridden by screening.csv in the data directory); -1: no "
        "daily screening (forewarn screening run still works)", -1, 23
    )
    forward_file: str = _setting(
        "", "the forwarding targets (the provincial platform, a city above): DATA/forward.toml when empty; "
        "no file, no forwarding"
    )
    mqtt_listen: str = _setting(
        "", "where forewarn's own MQTT port listens for devices and gateways that log in with their access token "
        "as the user name, as to ThingsBoard (e.g. 0.0.0.0:1883); empty: no MQTT port"
    )
    mqtt_broker: str = _setting(
        "", "an MQTT broker to subscribe to, as mqtt://[user:password@]host[:port] (mqtts:// for TLS); empty: none"
    )
    mqtt_subscriptions: str = _setting(
        "forewarn/+/readings=forewarn, v1/gateway/telemetry=thingsboard_gateway, hj212/#=hj212",
        "the broker's topic filters and the layout of each (TOPIC_FILTER=LAYOUT, comma-separated; layouts: "
        "forewarn, thingsboard_gateway, hj212)"
    )
    mqtt_client_id: str = _setting(
        "", "the client id forewarn's session at the broker is kept under (empty: forewarn-HOSTNAME); keep it "
        "fixed, or the broker forgets what it kept while forewarn was away"
    )
    mqtt_version: int = _setting(4, "the MQTT version spoken to the broker: 4 (3.1.1) or 5", 4, 5)
    mqtt_session_expiry_s: int = _setting(
        604800, "MQTT 5: how long the broker keeps forewarn's session (and its messages) while it is away", 0, None
    )
    mqtt_ca_file: str = _setting("", "CA certificates to check an mqtts:// broker by (empty: the system's)")
    mqtt_max_packet_bytes: int = _setting(
        262144, "a bigger MQTT packet is refused and its connection closed", 1024, 268435455
    )
    modbus_backoff_max_s: float = _setting(
        60.0, "a Modbus device that does not answer is asked again after its interval, then twice as long each "
        "time, up to this (its register map: forewarn modbus import)", 0, None
    )
    map_tile_url: str = _setting(
        "", "map tiles for the dashboard's map, as a URL template with {z}, {x} and {y} (e.g. an intranet "
        "Tianditu or OpenStreetMap mirror: http://tiles.example/{z}/{x}/{y}.png); empty: no tiles, the "
        "sites are drawn over the imported region outlines. The page's CSP then allows images from that host"
    )

    store: str = _setting(
        "", "where the data is kept: empty for the embedded SQLite file DATA/forewarn.db, sqlite:///PATH for "
        "another file, or postgresql://USER@HOST:PORT/DB (scale mode; docs/scale.md)"
    )
    bus: str = _setting(
        "memory://", "how this process tells the others what changed (readings committed, alarm steps, registry "
        "and rule changes): memory:// inside one process, or nats://HOST:PORT for NATS JetStream between "
        "processes and machines (scale mode; docs/scale.md)"
    )
    bus_partitions: int = _setting(
        16, "readings travel on the bus in this many subjects, forewarn.readings.<device id % N>, so that each "
        "rules worker can own a share of the devices; every process on one bus must use the same number", 1, 1024
    )
    hj212_reuse_port: int = _setting(
        -1, "1: the HJ 212 listener binds with SO_REUSEPORT, so several 'forewarn serve --role ingest' on one "
        "machine share its port and the kernel spreads the devices' connections; 0: a second process on the "
        "port fails with 'address in use'; -1 (auto): on for a process without every role (scale mode), off "
        "for the whole platform (docs/scale.md)", -1, 1
    )

    report_time: str = _setting(
        "01:00", "local time of day (HH:MM) the scheduled reports are made into DATA/reports: yesterday's daily "
        "report every day, last month's on the 1st, last year's on 1 January (one missed while the platform was "
        "down is made within a minute of its start); empty: no scheduled reports"
    )
    report_regions: str = _setting(
        "", "regions (GB/T 2260 codes, comma-separated) the scheduled reports are made for; empty: every "
        "registered region below a province (each city and each of its districts)"
    )
    report_enterprises: int = _setting(
        0, "also make each enterprise's scheduled reports (1), one file per enterprise and period", 0, 1
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "forewarn.db"

    @property
    def store_url(self) -> str:
        """The store as a URL: ``store`` if set, else the embedded file in the data directory."""
        return self.store or f"sqlite:///{self.db_path}"

    @property
    def rules_path(self) -> Path:
        return Path(self.rules_dir) if self.rules_dir else self.data_dir / "rules"

    @property
    def notify_path(self) -> Path:
        return Path(self.notify_file) if self.notify_file else self.data_dir / "notify.toml"

    @property
    def calendar_path(self) -> Path:
        return Path(self.calendar_file) if self.calendar_file else self.data_dir / "calendar.toml"

    @property
    def forward_path(self) -> Path:
        return Path(self.forward_file) if self.forward_file else self.data_dir / "forward.toml"

    @property
    def attachments_path(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def snapshots_path(self) -> Path:
        return self.data_dir / "snapshots"

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: str(f.metadata["help"]) for f in fields(cls)}


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file (if any), then command-line overrides that are not None."""
    values: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist or is not a file")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        known = Settings.help()
        for key, value in _flatten(raw).items():
            if key not in known:
                raise ConfigError(
                    f"config file {path}: unknown setting '{key}' (known: {', '.join(known)})"
                )
            values[key] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    by_name = {f.name: f for f in fields(Settings)}
    for key, value in values.items():
        spec = by_name[key]
        values[key] = _coerce(key, value, str(spec.type))
        low, high = spec.metadata["low"], spec.metadata["high"]
        if (low is not None and values[key] < low) or (high is not None and values[key] > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"setting '{key}' must be {bounds}, not {value!r}")
    settings = replace(Settings(), **values)
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise ConfigError(f"data directory {settings.data_dir} is a file, not a directory")
    try:
        settings.tz  # noqa: B018 - validate the time zone name now, not at first use
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone '{settings.timezone}'") from exc
    tiles = settings.map_tile_url
    if tiles and not (tiles.startswith(("http://", "https://")) and all(f"{{{c}}}" in tiles for c in "zxy")):
        raise ConfigError(f"setting 'map_tile_url' must be an http(s) URL template holding {{z}}, {{x}} and {{y}}, "
                          f"not {tiles!r}")
    if settings.store and not settings.store.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(f"setting 'store' must be empty, sqlite:///PATH or postgresql://USER@HOST:PORT/DB, "
                          f"not {settings.store!r}")
    if not settings.bus.startswith(("memory://", "nats://", "tls://")):
        raise ConfigError(f"setting 'bus' must be memory:// or nats://HOST:PORT, not {settings.bus!r}")
    if settings.report_time and not _is_time_of_day(settings.report_time):
        raise ConfigError(f"setting 'report_time' must be a time of day HH:MM (e.g. 01:00) or empty, "
                          f"not {settings.report_time!r}")
    return settings


def _is_time_of_day(text: str) -> bool:
    hours, _, minutes = text.partition(":")
    return (len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
            and int(hours) < 24 and int(minutes) < 60)


def _flatten(raw: dict[str, Any]) -> dict[str, Any]:
    """Allow both flat keys and one level of [sections] in the TOML file."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _coerce(key: str, value: Any, type_name: str) -> Any:
    try:
        if type_name == "Path":
            return Path(value)
        if type_name == "int":
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if type_name == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting '{key}' must be {type_name}, not {value!r}") from exc
