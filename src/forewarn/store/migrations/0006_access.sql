-- Access: users with roles and scopes, API tokens for clients, device tokens for devices that
-- push over HTTP, and the audit log of every write. Login rate limiting is kept in memory by
-- the serving process (forewarn.access.ratelimit), not here.

-- role: city_admin, district_admin, enterprise_user, auditor, device.
-- region_code: the region a district administrator or auditor sees (with the regions under it).
-- enterprise_id: the enterprise an enterprise user belongs to.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('city_admin', 'district_admin', 'enterprise_user', 'auditor', 'device')),
    region_code         TEXT REFERENCES regions(code),
    enterprise_id       INTEGER REFERENCES enterprises(id),
    disabled            INTEGER NOT NULL DEFAULT 0,
    created_ms          INTEGER NOT NULL,
    password_changed_ms INTEGER NOT NULL
);

-- Bearer tokens for API clients: only the SHA-256 (hex) of a token is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Tokens of devices that push over HTTP (the token in the URL): SHA-256 (hex) only.
CREATE TABLE device_tokens (
    device_id  INTEGER NOT NULL REFERENCES devices(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);
CREATE INDEX device_tokens_by_device ON device_tokens (device_id);

-- Every write: who, what, when, the entity before and after (JSON), and where it came from
-- (cli, http, demo ...).
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before    TEXT,
    after     TEXT,
    origin    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_entity ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_by_time ON audit_log (at_ms);
