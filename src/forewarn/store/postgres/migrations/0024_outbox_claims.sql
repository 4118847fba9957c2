-- Claims on outbox rows (see the SQLite migration of the same name): the dispatcher holding a
-- row (claimed_by; on a delivered row, who delivered it) and until when (lease_until_ms, epoch
-- ms). Claims are taken with FOR UPDATE SKIP LOCKED, so two dispatchers never wait on each other.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until_ms BIGINT;
