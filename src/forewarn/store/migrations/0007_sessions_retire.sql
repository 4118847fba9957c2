-- Dashboard sessions: the cookie holds a random token, only its SHA-256 (hex) is kept here.
-- A session ends at expires_ms, after idle_s without use, at logout, or when its user's
-- password changes or the user is disabled.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    token_hash   TEXT NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    last_used_ms INTEGER NOT NULL,
    address      TEXT NOT NULL DEFAULT '',
    revoked      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Retiring keeps the history: a retired region, enterprise or point stays with its readings
-- and alarms, and no longer counts (sites and devices already have a status column).
ALTER TABLE regions ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE enterprises ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE points ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
