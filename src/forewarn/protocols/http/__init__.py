"""HTTP ingest: JSON batches and ThingsBoard-compatible device telemetry (the pure part)."""
