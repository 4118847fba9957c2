-- What the field trial asked of alarms (issue 12): an episode's course kept as its evidence,
-- many devices silent at once grouped as one storm, one incident seen by several rules as one alarm.

-- A storm: many devices silent at once, heard once per region and handled together. key is
-- restart:<ms> (silent since before the platform started then: its own downtime is the
-- cause, cause_alarm_id) or offline (several going silent within the rule's storm window).
CREATE TABLE alarm_groups (
    id             INTEGER PRIMARY KEY,
    key            TEXT NOT NULL,
    rule_id        TEXT NOT NULL,
    cause_alarm_id INTEGER REFERENCES alarms(id),
    first_ms       INTEGER NOT NULL,
    last_ms        INTEGER NOT NULL
);
CREATE INDEX alarm_groups_by_key ON alarm_groups (rule_id, key, last_ms);
-- The group an alarm belongs to (NULL: it stands alone). Bulk handling selects by it.
ALTER TABLE alarms ADD COLUMN group_id INTEGER REFERENCES alarm_groups(id);
CREATE INDEX alarms_by_group ON alarms (group_id, region_code) WHERE group_id IS NOT NULL;

-- Rules naming the same incident (treatment off, stopped early, started late) share one alarm
-- per subject: the later rule's decision is a step on it, not a second alarm.
ALTER TABLE alarms ADD COLUMN incident TEXT NOT NULL DEFAULT '';
CREATE INDEX alarms_by_incident ON alarms (incident, subject) WHERE incident != '';

-- Where the alarm's evidence window begins and which points it follows (JSON), so that the
-- readings from before the episode until it cleared are kept as its course.
ALTER TABLE alarms ADD COLUMN course TEXT NOT NULL DEFAULT '';

-- Evidence rows once each: the course is copied as the episode goes on and again when it
-- clears, and overlapping windows must not store a reading twice.
DELETE FROM alarm_evidence WHERE rowid NOT IN (
    SELECT MIN(rowid) FROM alarm_evidence GROUP BY alarm_id, mn, code, field, kind, ts);
CREATE UNIQUE INDEX alarm_evidence_once ON alarm_evidence (alarm_id, mn, code, field, kind, ts);
