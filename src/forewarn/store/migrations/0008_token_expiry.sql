-- API tokens end: a token issued without an end (before this migration) keeps working until
-- revoked; new ones get one (forewarn users token --days, default 365).
ALTER TABLE api_tokens ADD COLUMN expires_ms INTEGER;
