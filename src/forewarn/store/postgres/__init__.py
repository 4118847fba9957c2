"""The PostgreSQL store: the same schema as the embedded one (same migration numbers, tables and
columns), readings partitioned by month, and ``PgStore`` behind the same ``Store`` interface.

Modules by concern: ``migrate`` (the schema), ``partitions`` (month partitions on demand),
``sequences`` (identities after a copy with explicit ids), ``store`` (the Store itself).
Room is left for repositories of other aggregates (users, sessions) as modules of their own.
"""
