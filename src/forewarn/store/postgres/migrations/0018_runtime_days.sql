-- The figures' per-day times (see the SQLite migration of the same name).
CREATE TABLE device_online_days (
    device_id   BIGINT NOT NULL,
    day_ms      BIGINT NOT NULL,
    online_ms   BIGINT NOT NULL,
    computed_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, day_ms)
);

CREATE TABLE facility_days (
    site_id           BIGINT NOT NULL,
    day_ms            BIGINT NOT NULL,
    production_ms     BIGINT NOT NULL,
    treatment_with_ms BIGINT NOT NULL,
    fan_ms            BIGINT NOT NULL,
    purifier_with_ms  BIGINT NOT NULL,
    computed_ms       BIGINT NOT NULL,
    PRIMARY KEY (site_id, day_ms)
);
