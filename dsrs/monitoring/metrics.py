"""Every Prometheus metric DSRS exposes on /metrics, in one place, so dashboards and alert rules
can be checked against this list."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUEST_SECONDS = Histogram(
    "dsrs_http_request_duration_seconds", "HTTP request latency", ["route", "method", "status"], buckets=LATENCY_BUCKETS
)
AGENT_BATCH_SECONDS = Histogram(
    "dsrs_agent_batch_duration_seconds", "Time an agent takes for one batch", ["agent"], buckets=LATENCY_BUCKETS
)
AGENT_EVENTS_PROCESSED = Counter("dsrs_agent_events_processed", "Events an agent applied", ["agent"])
AGENT_EVENTS_APPLIED_UPSTREAM = Counter(
    "dsrs_agent_events_applied_upstream",
    "Events an agent skipped: the transaction that wrote them applied its stage (colocated stages)",
    ["agent"],
)
AGENT_EVENTS_FAILED = Counter("dsrs_agent_events_failed", "Events an agent sent to its dead-letter topic", ["agent"])
AGENT_RETRIES = Counter("dsrs_agent_retries", "Transient failures an agent retried", ["agent"])
ELIGIBILITY_DECISIONS = Counter("dsrs_eligibility_decisions", "Eligibility assessments stored", ["program", "decision"])
REASSESSED = Counter(
    "dsrs_reassessed_households", "Households re-assessed under a newly active program version", ["program", "change"]
)
# Must stay zero: a stored assessment that its stored program version and facts no longer reproduce.
REPLAY_MISMATCHES = Counter("dsrs_assessment_replay_mismatches", "Explained assessments not reproduced", ["program"])
PAYMENTS_BY_STATUS = Gauge("dsrs_payments", "Payments in each state", ["status"])
OUTBOX_PENDING = Gauge("dsrs_outbox_pending_events", "Outbox events not yet published")
OUTBOX_OLDEST_AGE = Gauge("dsrs_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox event")
OUTBOX_PUBLISHED = Counter("dsrs_outbox_published_events", "Outbox events published to Kafka")
CONSUMER_LAG = Gauge("dsrs_consumer_lag_messages", "High watermark minus committed offset", ["topic", "partition"])
DLQ_DEPTH = Gauge("dsrs_dlq_depth_messages", "Messages held in a dead-letter topic", ["topic"])
RECONCILIATION_MISMATCHES = Counter(
    "dsrs_reconciliation_mismatches", "Mismatches found between provider statements and payments", ["kind"]
)
DLQ_LETTERS_RETRIED = Counter("dsrs_dlq_letters_retried", "Dead letters the reprocess agent sent back", ["cause"])
DLQ_LETTERS_RECOVERED = Counter("dsrs_dlq_letters_recovered", "Retried dead letters that were then applied")
DLQ_LETTERS_PARKED = Counter("dsrs_dlq_letters_parked", "Dead letters that wait for a person", ["cause"])
DLQ_HELD_IN_DATABASE = Counter(
    "dsrs_dlq_letters_held_in_database", "Dead letters too large for their topic, held in PostgreSQL"
)
GC_PAUSE_SECONDS = Histogram(
    "dsrs_gc_pause_seconds",
    "Pauses of Python's cyclic garbage collector, the event loop stopped",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)

# The names as Prometheus shows them (counters gain _total, histograms _bucket/_sum/_count).
EXPOSED = {
    "dsrs_http_request_duration_seconds_bucket",
    "dsrs_http_request_duration_seconds_count",
    "dsrs_http_request_duration_seconds_sum",
    "dsrs_agent_batch_duration_seconds_bucket",
    "dsrs_agent_batch_duration_seconds_count",
    "dsrs_agent_batch_duration_seconds_sum",
    "dsrs_agent_events_processed_total",
    "dsrs_agent_events_applied_upstream_total",
    "dsrs_agent_events_failed_total",
    "dsrs_agent_retries_total",
    "dsrs_gc_pause_seconds_bucket",
    "dsrs_gc_pause_seconds_count",
    "dsrs_gc_pause_seconds_sum",
    "dsrs_eligibility_decisions_total",
    "dsrs_payments",
    "dsrs_outbox_pending_events",
    "dsrs_outbox_oldest_pending_age_seconds",
    "dsrs_outbox_published_events_total",
    "dsrs_consumer_lag_messages",
    "dsrs_dlq_depth_messages",
    "dsrs_reconciliation_mismatches_total",
    "dsrs_dlq_letters_retried_total",
    "dsrs_dlq_letters_recovered_total",
    "dsrs_dlq_letters_parked_total",
    "dsrs_dlq_letters_held_in_database_total",
}
