-- The figures' per-day times (issue 9 item 3), computed once a day is over from the raw data,
-- so that a month's online rate by time and facility run rate read 31 rows per device or site
-- rather than 44,640 readings (stats/runtime.py computes them; stats/figures.py reads them).
--
-- device_online_days: how long the device was online during the local day [day_ms, +1 day),
-- by forewarn.online's definition (heard within offline_after_intervals reporting intervals),
-- its contacts being its real-time readings.
CREATE TABLE device_online_days (
    device_id   INTEGER NOT NULL,
    day_ms      INTEGER NOT NULL,
    online_ms   INTEGER NOT NULL,
    computed_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, day_ms)
) WITHOUT ROWID;

-- facility_days: a site's equipment running times that day, as its composite rules' operands
-- see them (rules/limits.py): production ON, treatment ON while production ON, fan ON,
-- purifier ON while the fan ON.
CREATE TABLE facility_days (
    site_id           INTEGER NOT NULL,
    day_ms            INTEGER NOT NULL,
    production_ms     INTEGER NOT NULL,
    treatment_with_ms INTEGER NOT NULL,
    fan_ms            INTEGER NOT NULL,
    purifier_with_ms  INTEGER NOT NULL,
    computed_ms       INTEGER NOT NULL,
    PRIMARY KEY (site_id, day_ms)
) WITHOUT ROWID;
