-- The notification outbox: one row per (alarm notice, channel), written in the same
-- transaction as the alarm change it tells of, so a notice is never lost for a change that
-- was stored nor sent for one that was not. The dispatcher delivers due rows and records
-- each outcome; a row is pending while delivered_ms and given_up_ms are both NULL.
-- Times are Unix epoch milliseconds (UTC).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    alarm_id        INTEGER NOT NULL,
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_ms    INTEGER,
    given_up_ms     INTEGER
);

-- "What is due now": only pending rows are indexed, so the index stays as small as the backlog.
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE delivered_ms IS NULL AND given_up_ms IS NULL;
-- The same per channel, so one channel's backlog never hides another channel's due rows.
CREATE INDEX outbox_due_by_channel ON outbox (channel, next_attempt_ms)
    WHERE delivered_ms IS NULL AND given_up_ms IS NULL;
-- "What was sent about this alarm", for the alarm's page and its evidence.
CREATE INDEX outbox_by_alarm ON outbox (alarm_id);
