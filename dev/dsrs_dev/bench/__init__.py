"""Benchmarks: the saga measured against the machine's own Kafka and PostgreSQL limits, in one run."""
