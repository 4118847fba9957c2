-- Rules, their engine state, and alarms with their handling steps and evidence.

-- Every distinct content of a rule gets the next version number; alarms record it.
CREATE TABLE rule_versions (
    rule_id    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (rule_id, version)
) WITHOUT ROWID;
CREATE UNIQUE INDEX rule_versions_by_hash ON rule_versions (rule_id, hash);

-- The engine's state per (rule, subject), written in the same transaction as the readings.
CREATE TABLE rule_state (
    rule_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    state   TEXT NOT NULL,
    PRIMARY KEY (rule_id, subject)
) WITHOUT ROWID;

CREATE TABLE alarms (
    id             INTEGER PRIMARY KEY,
    rule_id        TEXT NOT NULL,
    rule_version   INTEGER NOT NULL,
    subject        TEXT NOT NULL,
    level          INTEGER NOT NULL,
    state          TEXT NOT NULL,      -- firing acknowledged dispatched checked resolved closed
    condition      TEXT NOT NULL,      -- active | cleared
    live           INTEGER NOT NULL,   -- 0: decided by late (backfilled) data
    silenced       INTEGER NOT NULL DEFAULT 0,
    escalated      INTEGER NOT NULL DEFAULT 0,
    overdue        INTEGER NOT NULL DEFAULT 0,
    mn             TEXT NOT NULL DEFAULT '',
    site_id        INTEGER,
    site           TEXT NOT NULL DEFAULT '',
    enterprise     TEXT NOT NULL DEFAULT '',
    region_code    TEXT NOT NULL DEFAULT '',
    region_name    TEXT NOT NULL DEFAULT '',
    point          TEXT NOT NULL DEFAULT '',
    title_zh       TEXT NOT NULL,
    title_en       TEXT NOT NULL,
    explanation_zh TEXT NOT NULL,
    explanation_en TEXT NOT NULL,
    first_ts       INTEGER NOT NULL,   -- data time the condition was decided
    last_ts        INTEGER NOT NULL,
    cleared_ts     INTEGER,
    repeats        INTEGER NOT NULL DEFAULT 0,
    assignee       TEXT NOT NULL DEFAULT '',
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    acked_ms       INTEGER,
    closed_ms      INTEGER
);
-- One open alarm per rule and subject: repeats are counted on it, never a second row.
CREATE UNIQUE INDEX alarms_one_open ON alarms (rule_id, subject) WHERE state != 'closed';
CREATE INDEX alarms_by_state ON alarms (state, level);
CREATE INDEX alarms_by_site ON alarms (site_id, state);

CREATE TABLE alarm_steps (
    id       INTEGER PRIMARY KEY,
    alarm_id INTEGER NOT NULL REFERENCES alarms(id),
    step     TEXT NOT NULL,
    actor    TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    note     TEXT NOT NULL DEFAULT '',
    data     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX alarm_steps_by_alarm ON alarm_steps (alarm_id, id);

CREATE TABLE alarm_evidence (
    alarm_id INTEGER NOT NULL REFERENCES alarms(id),
    mn       TEXT NOT NULL,
    code     TEXT NOT NULL,
    field    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    ts       INTEGER NOT NULL,
    value    REAL,
    flag     TEXT NOT NULL
);
CREATE INDEX alarm_evidence_by_alarm ON alarm_evidence (alarm_id, ts);

-- Maintenance windows: alarms raised inside one are recorded but not announced.
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    mn         TEXT NOT NULL DEFAULT '',
    site_id    INTEGER,
    rule_id    TEXT NOT NULL DEFAULT '',
    from_ms    INTEGER NOT NULL,
    until_ms   INTEGER NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
