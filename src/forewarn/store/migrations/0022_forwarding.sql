-- Forwarding upward (issue 10): each stored reading bound for a target enters the outbox in
-- the transaction that stores it. Triggers do it, so it holds for every adapter and only for
-- readings really stored: INSERT OR IGNORE fires no trigger for a reading already there, so a
-- device's resend is not forwarded twice. forward_rules says which devices' factors each target
-- takes (code and kind '*' for all); it is rebuilt from forward.toml and the registry on every start and
-- registry change. A sender deletes its rows once the target has answered for them.
CREATE TABLE forward_rules (
    target    TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    code      TEXT NOT NULL,
    kind      TEXT NOT NULL,
    PRIMARY KEY (device_id, code, kind, target)
) WITHOUT ROWID;

-- AUTOINCREMENT: ids never come back once the outbox has been emptied, because a sender
-- remembers the last id answered for and reads on from it
CREATE TABLE forward_outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    target    TEXT NOT NULL,
    device_id INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    code      TEXT NOT NULL,
    field     TEXT NOT NULL,
    value     REAL,
    flag      TEXT NOT NULL
);
CREATE INDEX forward_outbox_by_target ON forward_outbox (target, id);

-- what each target has been sent: for its status (lag, backlog, last error) across restarts
CREATE TABLE forward_state (
    target       TEXT PRIMARY KEY,
    delivered    INTEGER NOT NULL DEFAULT 0,
    frames       INTEGER NOT NULL DEFAULT 0,
    last_sent_ms INTEGER,
    last_ts      INTEGER,
    last_error   TEXT NOT NULL DEFAULT '',
    error_ms     INTEGER
) WITHOUT ROWID;

CREATE TRIGGER forward_rtd AFTER INSERT ON readings_rtd
BEGIN
    INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag)
    SELECT f.target, p.device_id, 'rtd', NEW.ts, p.code, p.field, NEW.value, NEW.flag
    FROM points p JOIN forward_rules f ON f.device_id = p.device_id AND (f.code = '*' OR f.code = p.code)
        AND (f.kind = '*' OR f.kind = 'rtd')
    WHERE p.id = NEW.point_id;
END;

CREATE TRIGGER forward_minute AFTER INSERT ON readings_minute
BEGIN
    INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag)
    SELECT f.target, p.device_id, 'minute', NEW.ts, p.code, p.field, NEW.value, NEW.flag
    FROM points p JOIN forward_rules f ON f.device_id = p.device_id AND (f.code = '*' OR f.code = p.code)
        AND (f.kind = '*' OR f.kind = 'minute')
    WHERE p.id = NEW.point_id;
END;

CREATE TRIGGER forward_hour AFTER INSERT ON readings_hour
BEGIN
    INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag)
    SELECT f.target, p.device_id, 'hour', NEW.ts, p.code, p.field, NEW.value, NEW.flag
    FROM points p JOIN forward_rules f ON f.device_id = p.device_id AND (f.code = '*' OR f.code = p.code)
        AND (f.kind = '*' OR f.kind = 'hour')
    WHERE p.id = NEW.point_id;
END;

CREATE TRIGGER forward_day AFTER INSERT ON readings_day
BEGIN
    INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag)
    SELECT f.target, p.device_id, 'day', NEW.ts, p.code, p.field, NEW.value, NEW.flag
    FROM points p JOIN forward_rules f ON f.device_id = p.device_id AND (f.code = '*' OR f.code = p.code)
        AND (f.kind = '*' OR f.kind = 'day')
    WHERE p.id = NEW.point_id;
END;

CREATE TRIGGER forward_status AFTER INSERT ON readings_status
BEGIN
    INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag)
    SELECT f.target, p.device_id, 'status', NEW.ts, p.code, p.field, NEW.value, NEW.flag
    FROM points p JOIN forward_rules f ON f.device_id = p.device_id AND (f.code = '*' OR f.code = p.code)
        AND (f.kind = '*' OR f.kind = 'status')
    WHERE p.id = NEW.point_id;
END;

CREATE TRIGGER forward_runtime AFTER INSERT ON readings_runtime
BEGIN
    INSERT INTO forward_outbox (target, device_id, kind, ts, code, field, value, flag)
    SELECT f.target, p.device_id, 'runtime', NEW.ts, p.code, p.field, NEW.value, NEW.flag
    FROM points p JOIN forward_rules f ON f.device_id = p.device_id AND (f.code = '*' OR f.code = p.code)
        AND (f.kind = '*' OR f.kind = 'runtime')
    WHERE p.id = NEW.point_id;
END;
