"""The tables of the system of record, as SQLAlchemy Core metadata.

Alembic migrations create them; this module mirrors them so queries are typed, and a
test checks that the migrated database and this metadata agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from dsrs.granularity import GRANULARITIES

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    }
)

HOUSEHOLD_STATUSES = ("active", "inactive")
DECISIONS = ("approved", "denied")
PAYMENT_STATUSES = ("scheduled", "sent", "completed", "failed", "cancelled")

households = Table(
    "households",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("head_of_household_name", Text, nullable=False),
    Column("phone", String(32)),
    # Letters and digits only, as the registry normalises it (dsrs.registry.household).
    Column("national_id", String(20)),
    Column("email", String(254)),
    Column("address", Text),
    Column("region", String(16), nullable=False),
    Column("household_size", Integer, nullable=False),
    Column("children_under_5", Integer, nullable=False, server_default="0"),
    Column("children_5_to_17", Integer, nullable=False, server_default="0"),
    Column("elderly_members", Integer, nullable=False, server_default="0"),
    Column("disabled_members", Integer, nullable=False, server_default="0"),
    Column("monthly_income", Numeric(14, 2), nullable=False),
    Column("dwelling_rooms", Integer, nullable=False, server_default="1"),
    Column("has_electricity", Boolean, nullable=False, server_default=text("false")),
    Column("has_piped_water", Boolean, nullable=False, server_default=text("false")),
    Column("owns_livestock", Boolean, nullable=False, server_default=text("false")),
    Column("status", String(16), nullable=False, server_default="active"),
    # Why an inactive household left (moved, deceased, withdrew, duplicate, other).
    Column("status_reason", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("household_size BETWEEN 1 AND 50", name="household_size_range"),
    CheckConstraint("monthly_income >= 0", name="income_not_negative"),
    CheckConstraint(
        "children_under_5 + children_5_to_17 + elderly_members <= household_size", name="members_within_size"
    ),
    CheckConstraint(f"status IN {HOUSEHOLD_STATUSES}", name="status_known"),
    # Keyset pagination filtered by region walks (region, id).
    Index("ix_households_region_id", "region", "id"),
)

# A pair of active households that may be one family: raised by the registry when either is written,
# decided by an officer. The household raised on is held (its payments are not sent) while the pair is
# suspected; the unique pair index remembers every decision, so a pair is raised at most once.
DUPLICATE_STATUSES = ("suspected", "merged", "dismissed")

duplicate_pairs = Table(
    "duplicate_pairs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("household_id", UUID(as_uuid=True), ForeignKey("households.id"), nullable=False),
    Column("candidate_id", UUID(as_uuid=True), ForeignKey("households.id"), nullable=False),
    Column("region", String(16), nullable=False),
    Column("score", Numeric(4, 3), nullable=False),
    # Names of the fields that agreed, never their values.
    Column("matched_fields", ARRAY(Text), nullable=False),
    Column("status", String(16), nullable=False, server_default="suspected"),
    Column("raised_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", Text),
    # On a merge, the household that stayed active; the other was deactivated with reason `duplicate`.
    Column("kept_household_id", UUID(as_uuid=True), ForeignKey("households.id")),
    CheckConstraint(f"status IN {DUPLICATE_STATUSES}", name="status_known"),
    CheckConstraint("household_id <> candidate_id", name="two_households"),
    CheckConstraint("score BETWEEN 0 AND 1", name="score_range"),
    Index(
        "uq_duplicate_pairs_once",
        func.least(text("household_id"), text("candidate_id")),
        func.greatest(text("household_id"), text("candidate_id")),
        unique=True,
    ),
    # The payment dispatcher's hold: is this household raised on a pair still suspected?
    Index("ix_duplicate_pairs_held", "household_id", postgresql_where=text("status = 'suspected'")),
    Index("ix_duplicate_pairs_candidate_id", "candidate_id"),
    Index("ix_duplicate_pairs_status_region", "status", "region"),
)

# Blocking keys (dsrs.registry.blocking): a household is compared only with those sharing a key, as
# 64-bit digests so that no second copy of a phone, national id or name is kept.
household_match_keys = Table(
    "household_match_keys",
    metadata,
    Column("key", BigInteger, nullable=False),
    Column("household_id", UUID(as_uuid=True), ForeignKey("households.id"), nullable=False),
    PrimaryKeyConstraint("key", "household_id"),
    Index("ix_household_match_keys_household_id", "household_id"),
)

event_outbox = Table(
    "event_outbox",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("aggregate_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("message_key", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # No published_at: the relay deletes an event once the broker acknowledged it (migration 0007), so
    # every row is pending and the primary key is the relay's index of pending events by id.
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(64), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
    # Claims older than the dedupe window are pruned by age (dsrs.db.processed_events).
    Index("ix_processed_events_processed_at", "processed_at"),
)

eligibility_assessments = Table(
    "eligibility_assessments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("household_id", UUID(as_uuid=True), ForeignKey("households.id"), nullable=False),
    Column("household_version", Integer, nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("score", Numeric(10, 4)),
    Column("benefit_amount", Numeric(14, 2)),
    Column("rule_results", JSONB, nullable=False),
    Column("source_event_id", UUID(as_uuid=True), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The exact program content decided under (program_versions.content_sha256); none before 0011.
    Column("program_sha256", String(64)),
    # Set when the assessment was made by a re-assessment of the registry, not by a change of the household.
    Column("reassessment_id", UUID(as_uuid=True)),
    CheckConstraint(f"decision IN {DECISIONS}", name="decision_known"),
    # One assessment of one household version under one policy version: a redelivery adds nothing.
    UniqueConstraint(
        "household_id",
        "program_id",
        "household_version",
        "policy_version",
        name="uq_eligibility_assessments_once_per_version",
    ),
    Index("ix_eligibility_assessments_latest", "household_id", "program_id", "assessed_at"),
    Index("ix_eligibility_assessments_program_decision", "program_id", "decision"),
    # A household's current assessment per program: its newest version, then its newest decision.
    Index(
        "ix_eligibility_assessments_current",
        "program_id",
        "household_id",
        text("household_version DESC"),
        text("assessed_at DESC"),
    ),
)

payments = Table(
    "payments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("household_id", UUID(as_uuid=True), ForeignKey("households.id"), nullable=False),
    Column("assessment_id", UUID(as_uuid=True), ForeignKey("eligibility_assessments.id"), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("cycle", String(16), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False, server_default="scheduled"),
    Column("due_date", Date, nullable=False),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("max_attempts", Integer, nullable=False, server_default="5"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("settle_by", Date, nullable=False),
    Column("provider_reference", Text, unique=True),
    Column("settled_amount", Numeric(14, 2)),
    Column("settled_at", DateTime(timezone=True)),
    Column("last_error", Text),
    # Why a sent payment needs a person's look (the household stopped being eligible while it was out).
    Column("review_reason", Text),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(f"status IN {PAYMENT_STATUSES}", name="status_known"),
    # A household is paid at most once per program and cycle; a cancelled payment leaves room for another.
    Index(
        "uq_payments_once_per_cycle",
        "household_id",
        "program_id",
        "cycle",
        unique=True,
        postgresql_where=text("status <> 'cancelled'"),
    ),
    Index("ix_payments_status_due_date", "status", "due_date"),
    Index("ix_payments_program_id_status", "program_id", "status"),
    Index("ix_payments_household_program", "household_id", "program_id"),
    Index("ix_payments_dispatchable", "due_date", "next_attempt_at", postgresql_where=text("status = 'scheduled'")),
)

CYCLE_STATUSES = ("opening", "open")

# One row per program and cycle opened: 'opening' from the moment its cut-off is taken until its
# payments are written; a cycle left 'opening' by a crash is finished by the next opener.
payment_cycles = Table(
    "payment_cycles",
    metadata,
    Column("program_id", String(64), nullable=False),
    Column("cycle", String(16), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", String(16), nullable=False, server_default="opening"),
    Column("cutoff_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("opened_at", DateTime(timezone=True)),
    Column("opened_by", Text, nullable=False),
    Column("payments_created", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("program_id", "cycle"),
    CheckConstraint(f"status IN {CYCLE_STATUSES}", name="status_known"),
)

# Every change of a payment's status, written by the state-machine trigger (migration 0004).
payment_transitions = Table(
    "payment_transitions",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("payment_id", UUID(as_uuid=True), ForeignKey("payments.id"), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("reason", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_payment_transitions_payment_id", "payment_id", "id"),
)

simulated_provider_ledger = Table(
    "simulated_provider_ledger",
    metadata,
    Column("reference", Text, primary_key=True),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("payment_id", UUID(as_uuid=True), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", Text),
    Column("settle_at", DateTime(timezone=True), nullable=False),
    Column("reported_at", DateTime(timezone=True)),
    Index("ix_simulated_provider_ledger_unreported", "settle_at", postgresql_where=text("reported_at IS NULL")),
)

MISMATCH_KINDS = ("amount_mismatch", "unknown_reference", "duplicate_settlement", "unsettled_past_deadline")

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("source", Text, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("mismatches", Integer, nullable=False),
    Column("ran_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

reconciliation_mismatches = Table(
    "reconciliation_mismatches",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("run_id", UUID(as_uuid=True), ForeignKey("reconciliation_runs.id")),
    Column("kind", String(32), nullable=False),
    Column("payment_id", UUID(as_uuid=True)),
    Column("reference", Text),
    Column("details", JSONB, nullable=False),
    Column("found_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"kind IN {MISMATCH_KINDS}", name="kind_known"),
    Index("ix_reconciliation_mismatches_run_id", "run_id", "id"),
)

# Why a letter failed decides when the reprocess agent may retry it: never on its own (content), or
# once the accepted regions, the programs or the DSRS release have changed since it failed.
DEAD_LETTER_CAUSES = ("content", "regions", "programs", "release")
DEAD_LETTER_STATES = ("waiting", "retried", "recovered", "parked")

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("letter_id", Text, primary_key=True),
    Column("original_topic", Text, nullable=False),
    Column("original_partition", Integer, nullable=False),
    Column("original_offset", BigInteger, nullable=False),
    Column("consumer", Text),
    # The event's id, where it has one: whether its consumer has since applied it says it was recovered.
    Column("event_id", UUID(as_uuid=True)),
    Column("error_class", Text, nullable=False),
    Column("error_message", Text, nullable=False),
    Column("cause", Text, nullable=False),
    # The cause's fingerprint (regions, programs or release) when the letter last failed.
    Column("context", Text, nullable=False),
    Column("state", Text, nullable=False),
    # Too large for its dead-letter topic: this row is the only copy.
    Column("held_in_database", Boolean, nullable=False, server_default=false()),
    Column("message_key", LargeBinary),
    Column("message_value", LargeBinary),
    Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"state IN {DEAD_LETTER_STATES}", name="state_known"),
    CheckConstraint(f"cause IN {DEAD_LETTER_CAUSES}", name="cause_known"),
    Index("ix_dead_letters_state", "state", "cause"),
)

dlq_replays = Table(
    "dlq_replays",
    metadata,
    Column("dlq_topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("dlq_offset", BigInteger, nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("replayed_by", Text, nullable=False),
    PrimaryKeyConstraint("dlq_topic", "partition", "dlq_offset"),
)


# Each program version as deployed, never changed: what an assessment made under it can be replayed with.
program_versions = Table(
    "program_versions",
    metadata,
    Column("program_id", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("content", Text, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("deployed_by", Text, nullable=False),
    Column("deployed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    # Set once, when the version became the one deciding (at or after effective_from).
    Column("activated_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("program_id", "version"),
    Index("ix_program_versions_content_sha256", "content_sha256"),
)

# A program as a whole: retired means no new assessments and no new payments, whatever its versions.
programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retired_at", DateTime(timezone=True)),
    Column("retired_by", Text),
)

# The eligibility facts of each household version, without personal data: what a decision rested on,
# kept after the household changes so that the decision can be replayed.
household_facts = Table(
    "household_facts",
    metadata,
    Column("household_id", UUID(as_uuid=True), nullable=False),
    Column("household_version", Integer, nullable=False),
    Column("facts", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("household_id", "household_version"),
)

# Each household's newest decision per program (newest household version, then newest assessment):
# what "currently eligible" counts, and what a re-assessment compares with.
current_decisions = Table(
    "current_decisions",
    metadata,
    Column("household_id", UUID(as_uuid=True), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("assessment_id", UUID(as_uuid=True), nullable=False),
    Column("household_version", Integer, nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("benefit_amount", Numeric(14, 2)),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("household_id", "program_id"),
    Index("ix_current_decisions_program_id_decision", "program_id", "decision"),
)

# Superseded: a newer version of the program activated before it finished.
REASSESSMENT_STATUSES = ("running", "finished", "superseded")

# A re-assessment of the whole registry under a newly active version; its cursor makes it resumable.
reassessments = Table(
    "reassessments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="running"),
    # Households are walked in id order; the last one done, and the pass (a second pass picks up any
    # household registered under the old version while the first ran).
    Column("cursor", UUID(as_uuid=True)),
    Column("pass_number", Integer, nullable=False, server_default="1"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("approved_to_denied", Integer, nullable=False, server_default="0"),
    Column("denied_to_approved", Integer, nullable=False, server_default="0"),
    Column("benefit_changed", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("program_id", "version"),
    CheckConstraint(f"status IN {REASSESSMENT_STATUSES}", name="status_known"),
)

# Exact analytics counts, changed in the same transaction that records the event as processed,
# so a redelivered event never counts twice. Faust tables and the Mongo rollups mirror them.
analytics_counters = Table(
    "analytics_counters",
    metadata,
    Column("program_id", String(64), nullable=False),
    Column("region", String(16), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("amount", Numeric(18, 2), nullable=False, server_default="0"),
    PrimaryKeyConstraint("program_id", "region", "metric"),
)

analytics_windows = Table(
    "analytics_windows",
    metadata,
    Column("granularity", String(8), nullable=False),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("region", String(16), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("count", BigInteger, nullable=False, server_default="0"),
    Column("amount", Numeric(18, 2), nullable=False, server_default="0"),
    PrimaryKeyConstraint("granularity", "window_start", "program_id", "region", "metric"),
    CheckConstraint(f"granularity IN {GRANULARITIES}", name="granularity_known"),
)

# Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE (migration 0003).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),
    Column("roles", ARRAY(Text), nullable=False),
    Column("action", String(64), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("before_digest", String(64)),
    Column("after_digest", String(64)),
    Index("ix_audit_log_resource", "resource_type", "resource_id"),
)

# The DCI Social Registry API (dsrs.dci, docs/dci.md). A transaction is a request DSRS answered: its
# outcome holds statuses and household ids, never personal data (answers are rebuilt from the registry).
DCI_TRANSACTION_KINDS = ("search", "subscribe", "unsubscribe")
dci_transactions = Table(
    "dci_transactions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # the correlation_id DSRS answered with
    Column("kind", String(16), nullable=False),
    Column("transaction_id", String(99), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("sender_id", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reference_ids", ARRAY(Text), nullable=False),
    Column("outcome", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"kind IN {DCI_TRANSACTION_KINDS}", name="kind_known"),
    Index("ix_dci_transactions_actor_transaction", "actor", "transaction_id"),
)

dci_subscriptions = Table(
    "dci_subscriptions",
    metadata,
    Column("code", UUID(as_uuid=True), primary_key=True),
    Column("transaction_pk", UUID(as_uuid=True), ForeignKey("dci_transactions.id"), nullable=False),
    Column("reference_id", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("notify_url", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("filter", JSONB, nullable=False),
    # Whether the subscriber's roles read personal data: its notifications carry names and phones only then.
    Column("personal_data", Boolean, nullable=False),
    Column("status", String(16), nullable=False, server_default="subscribe"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ended_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('subscribe', 'unsubscribe')", name="status_known"),
    Index("ix_dci_subscriptions_active", "code", postgresql_where=text("status = 'subscribe'")),
)

# Callbacks owed: each is sent until the receiver answers 2xx, at most DSRS_DCI_MAX_ATTEMPTS times. The
# payload is dropped once the callback is delivered or given up, so no copy of personal data stays here.
dci_deliveries = Table(
    "dci_deliveries",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("message_id", UUID(as_uuid=True), nullable=False),  # the idempotency key the receiver sees
    Column("action", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", JSONB),
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("subscription_code", UUID(as_uuid=True)),
    Column("event_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("message_id"),
    CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state_known"),
    Index("ix_dci_deliveries_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
)
