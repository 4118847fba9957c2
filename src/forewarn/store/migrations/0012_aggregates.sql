-- forewarn's own minute, hour, day and month values of every real-time point (issue 9 item 1).
-- Device-reported minute/hour/day data stays in readings_minute/hour/day; these are computed
-- from readings_rtd by the background aggregator (stats/aggregate.py) and kept when retention
-- deletes the raw rows.
--
-- start_ms: the period's start (epoch ms); hour, day and month boundaries are local time in
-- Settings.timezone. Counts are of raw real-time values at every level (an hour's n_received
-- is the values received in it): n_valid = flag N and not marked invalid in audit; n_over =
-- valid values above the point's upper limit (rules/limits.py, as the engine judges it);
-- over_ms = time those values held. parts / parts_valid: the sub-periods with data and the
-- valid ones (minutes of an hour, hours of a day, days of a month; values of a minute).
-- valid = 1 when the period is valid (an hour with hour_valid_minutes valid minutes ...);
-- flag = N when at least flag_n_share of its values are valid, else the most common other flag.
-- avg/min/max over the valid parts (over all parts when none is valid); cou = sum of valid values.
-- upper_limit: the limit n_over was counted against (NULL: the point has none).
CREATE TABLE aggregates (
    point_id    INTEGER NOT NULL,
    period      TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    avg         REAL,
    min         REAL,
    max         REAL,
    cou         REAL,
    n_received  INTEGER NOT NULL,
    n_valid     INTEGER NOT NULL,
    n_over      INTEGER NOT NULL,
    over_ms     INTEGER NOT NULL,
    parts       INTEGER NOT NULL,
    parts_valid INTEGER NOT NULL,
    valid       INTEGER NOT NULL,
    flag        TEXT NOT NULL,
    upper_limit REAL,
    computed_ms INTEGER NOT NULL,
    PRIMARY KEY (point_id, period, start_ms)
) WITHOUT ROWID;
-- No second index: every read names its points (the key's first column), and a second index
-- doubled the cost of writing a minute (docs/benchmarks.md, aggregation).

-- Time ranges of points whose periods must be computed again, half-open [start_ms, end_ms).
-- level 'minute': new or late data, audit marks, a recompute asked for (store.aggregates.mark_dirty):
-- the minutes touched are computed from readings_rtd, then their hours, days and months.
-- level 'hour': hours (with their days and months) to compute from the stored minutes once
-- due_ms has passed: an hour still open is computed once when it ends, not at every new minute.
-- The aggregator takes them in small jobs between the writer's transactions, deleting each once done.
CREATE TABLE aggregate_dirty (
    id       INTEGER PRIMARY KEY,
    level    TEXT NOT NULL DEFAULT 'minute',
    point_id INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms   INTEGER NOT NULL,
    due_ms   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX aggregate_dirty_by_due ON aggregate_dirty (level, due_ms);
-- one pending hour per point and hour
CREATE UNIQUE INDEX aggregate_dirty_hour_once ON aggregate_dirty (point_id, start_ms) WHERE level = 'hour';
