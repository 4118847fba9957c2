-- API tokens end (see the SQLite migration of the same name).
ALTER TABLE api_tokens ADD COLUMN expires_ms BIGINT;
