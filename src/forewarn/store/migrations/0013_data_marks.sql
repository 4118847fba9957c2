-- Data audit (数据审核): a reading or a time range of a point, a device or a site marked invalid,
-- or valid again, with a reason. The readings themselves are never changed: a mark is laid over
-- them, and what is valid at a time is decided by the newest mark in force covering it (a later
-- "valid again" over part of an invalid range re-validates that part). A mark is never deleted:
-- revoking it keeps the row with who revoked it, when and why, and every change is in the
-- audit log too.
--   target      'point', 'device' or 'site'; target_id its id (a device's or site's mark
--               covers all its points)
--   site_id     the target's site when the mark was made: the scope a mark is read and
--               changed under
--   start_ms, end_ms   half-open [start, end); end NULL: open-ended, until ended
--   valid       0 marks the range invalid, 1 valid again
CREATE TABLE data_marks (
    id          INTEGER PRIMARY KEY,
    target      TEXT NOT NULL CHECK (target IN ('point', 'device', 'site')),
    target_id   INTEGER NOT NULL,
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER,
    valid       INTEGER NOT NULL CHECK (valid IN (0, 1)),
    reason      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    origin      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER,
    revoked_by  TEXT,
    revoke_note TEXT,
    CHECK (end_ms IS NULL OR end_ms > start_ms)
);
CREATE INDEX data_marks_by_target ON data_marks (target, target_id, start_ms);
CREATE INDEX data_marks_by_site ON data_marks (site_id, start_ms);
-- a site's marks reach its points through its devices
CREATE INDEX IF NOT EXISTS devices_by_site ON devices (site_id);
