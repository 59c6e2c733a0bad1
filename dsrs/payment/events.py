"""The `payment.*` events: one shape for every step of a payment's life."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.engine import Row

from dsrs.db.schema import households, payments
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.outbox.writer import OutgoingEvent


def payment_with_region() -> Select[Any]:
    """A payment row with its household's region, which analytics counts by."""
    return select(payments, households.c.region).join(households, households.c.id == payments.c.household_id)


def payment_event(
    topic: str, payment: Row[Any], source: str, traceparent: str | None = None, **extra: Any
) -> OutgoingEvent:
    data = {
        "payment_id": str(payment.id),
        "household_id": str(payment.household_id),
        "program_id": payment.program_id,
        "region": payment.region,
        "cycle": payment.cycle,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "attempt": payment.attempts,
        **extra,
    }
    envelope = new_envelope(topic, str(payment.household_id), data, source)
    return OutgoingEvent(topic, envelope, traceparent)


def scheduled_event(payment: Row[Any], source: str, traceparent: str | None = None) -> OutgoingEvent:
    """`payment.scheduled` for a payment just created, by an approval or by a cycle's opening."""
    data = {
        "payment_id": str(payment.id),
        "household_id": str(payment.household_id),
        "assessment_id": str(payment.assessment_id),
        "program_id": payment.program_id,
        "region": payment.region,
        "cycle": payment.cycle,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "due_date": payment.due_date.isoformat(),
        "status": "scheduled",
    }
    envelope = new_envelope(topics.PAYMENT_SCHEDULED, str(payment.household_id), data, source)
    return OutgoingEvent(topics.PAYMENT_SCHEDULED, envelope, traceparent)
