"""PostgreSQL, the system of record: schema, engine and migrations."""
