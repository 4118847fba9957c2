-- The highest level the data itself reached, apart from escalation by the timer: a rise of
-- the data past it is announced even when the timer already raised the alarm's level.
ALTER TABLE alarms ADD COLUMN data_level INTEGER NOT NULL DEFAULT 0;
UPDATE alarms SET data_level = level - escalated;
CREATE INDEX silences_by_until ON silences (until_ms);
