"""Topic names, as the audit of the earlier system named them; each has a `.dlq` twin."""

from __future__ import annotations

HOUSEHOLD_INTAKE = "registry.household.intake"
HOUSEHOLD_REGISTERED = "registry.household.registered"
HOUSEHOLD_UPDATED = "registry.household.updated"
# A household leaves (moved, deceased, ...) and comes back: payment cancels on the first, eligibility
# re-assesses on the second.
HOUSEHOLD_DEACTIVATED = "registry.household.deactivated"
HOUSEHOLD_REACTIVATED = "registry.household.reactivated"
# A household written looks like another one: ids, score and matched field names, for reviewers' tools.
HOUSEHOLD_DUPLICATE_SUSPECTED = "registry.household.duplicate_suspected"
ASSESSED_APPROVED = "eligibility.assessed.approved"
ASSESSED_DENIED = "eligibility.assessed.denied"
PAYMENT_SCHEDULED = "payment.scheduled"
PAYMENT_SENT = "payment.sent"
PAYMENT_COMPLETED = "payment.completed"
PAYMENT_FAILED = "payment.failed"
PAYMENT_CANCELLED = "payment.cancelled"
PAYMENT_RESCHEDULED = "payment.rescheduled"
# An unsent payment whose amount followed a newer assessment's benefit.
PAYMENT_AMENDED = "payment.amended"
# What payment providers report back: one settlement per attempt, and whole statements.
PROVIDER_SETTLEMENT = "payment.provider.settlement"
PROVIDER_STATEMENT = "payment.provider.statement"
# Analytics counts are kept per program and region; this internal topic is keyed that way so that
# every count of one program and region is owned by one partition, and so by one table partition.
# The outbox relay writes it (bundles of KPI events, see dsrs.analytics.bundle).
ANALYTICS_BY_PROGRAM_REGION = "dsrs.analytics.by-program-region"
# A program version became the one deciding; a program stopped (no new assessments, no new payments).
PROGRAM_VERSION_ACTIVATED = "program.version.activated"
PROGRAM_RETIRED = "program.retired"

SAGA_TOPICS = (
    HOUSEHOLD_INTAKE,
    HOUSEHOLD_REGISTERED,
    HOUSEHOLD_UPDATED,
    HOUSEHOLD_DEACTIVATED,
    HOUSEHOLD_REACTIVATED,
    HOUSEHOLD_DUPLICATE_SUSPECTED,
    ASSESSED_APPROVED,
    ASSESSED_DENIED,
    PAYMENT_SCHEDULED,
    PAYMENT_SENT,
    PAYMENT_COMPLETED,
    PAYMENT_FAILED,
    PAYMENT_CANCELLED,
    PAYMENT_RESCHEDULED,
    PAYMENT_AMENDED,
    PROVIDER_SETTLEMENT,
    PROVIDER_STATEMENT,
    ANALYTICS_BY_PROGRAM_REGION,
    PROGRAM_VERSION_ACTIVATED,
    PROGRAM_RETIRED,
)


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


DEAD_LETTER_TOPICS = tuple(dead_letter_topic(topic) for topic in SAGA_TOPICS)
