-- Claims on outbox rows, so that two notification dispatchers (two processes, two machines)
-- never send one notice at the same time. A dispatcher claims due rows in one atomic
-- statement, writing its own id and how long the claim holds; only the claimant sends. Its
-- outcome releases the claim (a delivered row keeps claimed_by: who delivered it). A claim
-- whose lease_until_ms has passed belonged to a dispatcher that died mid-send, and any
-- dispatcher may take the row again. Times are Unix epoch milliseconds (UTC).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER;
