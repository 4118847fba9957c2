-- Screening for doubtful data (issue 9 item 4).
--
-- packet_clock: what the HJ 212 handler notes of each registered device's data uploads, per
-- hour of receipt and kind: how many came, how many repeated one it had just received (the
-- same QN, or the same data segment under another QN), and how far the receive time stood
-- from the packet's DataTime (received - DataTime, ms: min, max, sum). The store otherwise
-- keeps no receive time for readings (they are keyed by DataTime) and drops repeats silently
-- (INSERT OR IGNORE), so a device whose clock drifts, or that sends every packet twice, would
-- leave no trace. One row per device and hour: a few thousand rows a day for a city.
CREATE TABLE packet_clock (
    device_id   INTEGER NOT NULL REFERENCES devices(id),
    hour_ms     INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    packets     INTEGER NOT NULL,
    repeats     INTEGER NOT NULL,
    skew_min_ms INTEGER NOT NULL,
    skew_max_ms INTEGER NOT NULL,
    skew_sum_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, hour_ms, kind)
) WITHOUT ROWID;

-- What the screening found, for an auditor to confirm (it becomes an audit mark) or dismiss.
-- A finding is keyed by its kind, its target and the start of its window, so screening the
-- same day again refreshes an open finding's evidence and never duplicates it, and a finding
-- already judged keeps its judgement.
CREATE TABLE screening_findings (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    site_id     INTEGER NOT NULL REFERENCES sites(id),
    device_id   INTEGER REFERENCES devices(id),
    point_id    INTEGER REFERENCES points(id),
    -- what it is about, as a key: point:ID, device:ID (NULL ids are never equal in UNIQUE)
    target      TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL,
    summary     TEXT NOT NULL,
    summary_zh  TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open',
    found_ms    INTEGER NOT NULL,
    run_id      INTEGER NOT NULL,
    decided_by  TEXT,
    decided_ms  INTEGER,
    decision_note TEXT,
    audit_mark_id INTEGER,
    UNIQUE (kind, target, start_ms)
);
CREATE INDEX screening_findings_by_state ON screening_findings (state, start_ms);
CREATE INDEX screening_findings_by_site ON screening_findings (site_id, start_ms);

-- Each screening run: which window, when, by whom (the daily schedule or a person), and what it found.
CREATE TABLE screening_runs (
    id          INTEGER PRIMARY KEY,
    from_ms     INTEGER NOT NULL,
    to_ms       INTEGER NOT NULL,
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    actor       TEXT NOT NULL,
    found       INTEGER NOT NULL DEFAULT 0,
    counts      TEXT NOT NULL DEFAULT '{}'
);
