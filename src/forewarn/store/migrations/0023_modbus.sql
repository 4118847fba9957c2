-- Modbus TCP (issue 10): forewarn polls these devices instead of waiting for them to send.
-- Each registered device of protocol 'modbus' has one connection (where and how often to ask)
-- and a register map (what each register means as a point). An import replaces a device's
-- connection and map together, in one transaction (registry/modbus.py).
CREATE TABLE modbus_connections (
    device_id  INTEGER PRIMARY KEY REFERENCES devices(id),
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL DEFAULT 502,
    unit_id    INTEGER NOT NULL DEFAULT 1,
    interval_s INTEGER NOT NULL,
    timeout_s  REAL NOT NULL DEFAULT 3,
    retries    INTEGER NOT NULL DEFAULT 1,
    updated_ms INTEGER NOT NULL
);

-- function: 1 coils, 2 discrete inputs, 3 holding registers, 4 input registers;
-- type and byte_order name entries of forewarn.protocols.modbus.decode's tables;
-- value = raw * scale + offset
CREATE TABLE modbus_registers (
    device_id  INTEGER NOT NULL REFERENCES devices(id),
    code       TEXT NOT NULL,
    field      TEXT NOT NULL,
    address    INTEGER NOT NULL,
    function   INTEGER NOT NULL,
    type       TEXT NOT NULL,
    byte_order TEXT NOT NULL,
    scale      REAL NOT NULL DEFAULT 1,
    "offset"   REAL NOT NULL DEFAULT 0,
    unit       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, code, field)
) WITHOUT ROWID;
