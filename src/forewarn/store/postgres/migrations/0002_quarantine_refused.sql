-- A quarantined packet its device, once registered, could not claim keeps the reason
-- (see the SQLite migration of the same name).
ALTER TABLE quarantine ADD COLUMN refused TEXT NOT NULL DEFAULT '';
