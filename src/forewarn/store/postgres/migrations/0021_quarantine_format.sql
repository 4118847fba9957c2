-- Quarantine holds more than HJ 212 packets: an MQTT message's part for an MN the registry
-- does not know is kept as it came, with the layout it came in ('mqtt:forewarn',
-- 'mqtt:thingsboard_gateway' ...), and claimed the same way once the MN is registered.
ALTER TABLE quarantine ADD COLUMN format TEXT NOT NULL DEFAULT 'hj212';
