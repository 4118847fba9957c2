-- forewarn schema, version 1: registry, readings per kind, quarantine, counters.
-- Times are Unix epoch milliseconds (UTC). Readings tables are narrow WITHOUT ROWID tables
-- keyed (point_id, ts): about 28 bytes a row and one index seek for a point's time range.

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_code TEXT
);

CREATE TABLE enterprises (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    region_code TEXT REFERENCES regions(code)
);

CREATE TABLE sites (
    id            INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    name          TEXT NOT NULL,
    site_type     TEXT NOT NULL,
    region_code   TEXT REFERENCES regions(code),
    longitude     REAL,
    latitude      REAL,
    status        TEXT NOT NULL DEFAULT 'active',
    UNIQUE (enterprise_id, name)
);

CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    mn          TEXT NOT NULL UNIQUE,
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    protocol    TEXT NOT NULL DEFAULT 'hj212',
    password    TEXT NOT NULL DEFAULT '',
    interval_s  INTEGER NOT NULL DEFAULT 60,
    leniency    TEXT NOT NULL DEFAULT '',
    device_kind TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    registered_ms INTEGER NOT NULL
);

CREATE TABLE points (
    id         INTEGER PRIMARY KEY,
    device_id  INTEGER NOT NULL REFERENCES devices(id),
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    quantity   TEXT NOT NULL DEFAULT 'unknown',
    unit       TEXT NOT NULL DEFAULT '',
    lower      REAL,
    upper      REAL,
    role       TEXT NOT NULL DEFAULT '',
    discovered INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    UNIQUE (device_id, code, field)
);

CREATE TABLE readings_rtd (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts)) WITHOUT ROWID;
CREATE TABLE readings_minute (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts)) WITHOUT ROWID;
CREATE TABLE readings_hour (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts)) WITHOUT ROWID;
CREATE TABLE readings_day (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts)) WITHOUT ROWID;
CREATE TABLE readings_status (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts)) WITHOUT ROWID;
CREATE TABLE readings_runtime (point_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL, flag TEXT NOT NULL, PRIMARY KEY (point_id, ts)) WITHOUT ROWID;

-- Packets from MNs the registry does not know: kept raw, replayed when the device is registered.
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    mn          TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    raw         BLOB NOT NULL,
    crlf        INTEGER NOT NULL,
    peer        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX quarantine_by_mn ON quarantine (mn, id);

-- Why packets were rejected, counted per reason, with the last example for the log reader.
CREATE TABLE rejections (
    reason      TEXT PRIMARY KEY,
    count       INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    last_mn     TEXT NOT NULL DEFAULT '',
    last_detail TEXT NOT NULL DEFAULT ''
);

-- Each tolerated protocol deviation, counted per device.
CREATE TABLE quirk_usage (
    device_id INTEGER NOT NULL REFERENCES devices(id),
    quirk     TEXT NOT NULL,
    count     INTEGER NOT NULL,
    last_ms   INTEGER NOT NULL,
    PRIMARY KEY (device_id, quirk)
) WITHOUT ROWID;

-- When each registered device was last heard, for online status.
CREATE TABLE device_activity (
    device_id INTEGER PRIMARY KEY REFERENCES devices(id),
    first_ms  INTEGER NOT NULL,
    last_ms   INTEGER NOT NULL,
    packets   INTEGER NOT NULL
);

-- Running totals (readings stored, packets accepted ...), updated with each batch.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- Bumped by every registry change so that a running server knows to reload its caches.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('registry_version', '0');
