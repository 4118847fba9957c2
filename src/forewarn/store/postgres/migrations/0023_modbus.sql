-- Modbus TCP: each polled device's connection and register map (see the SQLite migration of the same name).
CREATE TABLE modbus_connections (
    device_id  BIGINT PRIMARY KEY REFERENCES devices(id),
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL DEFAULT 502,
    unit_id    INTEGER NOT NULL DEFAULT 1,
    interval_s INTEGER NOT NULL,
    timeout_s  DOUBLE PRECISION NOT NULL DEFAULT 3,
    retries    INTEGER NOT NULL DEFAULT 1,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE modbus_registers (
    device_id  BIGINT NOT NULL REFERENCES devices(id),
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    address    INTEGER NOT NULL,
    function   INTEGER NOT NULL,
    type       TEXT NOT NULL,
    byte_order TEXT NOT NULL,
    scale      DOUBLE PRECISION NOT NULL DEFAULT 1,
    "offset"   DOUBLE PRECISION NOT NULL DEFAULT 0,
    unit       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, code, field)
);
