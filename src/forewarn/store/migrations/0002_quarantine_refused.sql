-- A quarantined packet that its device, once registered, could not claim (wrong password,
-- a quirk the device is not allowed ...) stays in quarantine with the reason, so that
-- correcting the registry and importing again still stores it.
ALTER TABLE quarantine ADD COLUMN refused TEXT NOT NULL DEFAULT '';
