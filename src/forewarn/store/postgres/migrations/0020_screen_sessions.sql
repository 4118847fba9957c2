-- A control-room screen's session: read-only, and kept far longer than a person's (it must
-- stay live for days without anyone at the keyboard). Any request that changes something is
-- refused for it, so a screen left logged in on a wall can show but never act.
ALTER TABLE sessions ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
