"""What a program officer may do to a payment: cancel it, or retry a failed one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import payments
from dsrs.events import topics
from dsrs.outbox.writer import add_events
from dsrs.payment.events import payment_event, payment_with_region

CANCELLABLE = ("scheduled", "failed")
RETRYABLE = ("failed",)


class PaymentNotFound(LookupError):
    pass


class TransitionRefused(RuntimeError):
    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"a {status} payment cannot be {action}")
        self.status = status


async def _locked(connection: AsyncConnection, payment_id: uuid.UUID) -> Any:
    payment = (
        await connection.execute(payment_with_region().where(payments.c.id == payment_id).with_for_update(of=payments))
    ).one_or_none()
    if payment is None:
        raise PaymentNotFound(str(payment_id))
    return payment


async def cancel(connection: AsyncConnection, payment_id: uuid.UUID, reason: str, source: str) -> dict[str, Any]:
    payment = await _locked(connection, payment_id)
    if payment.status not in CANCELLABLE:
        raise TransitionRefused("cancelled", payment.status)
    await connection.execute(
        update(payments).where(payments.c.id == payment_id).values(status="cancelled", last_error=reason)
    )
    await add_events(connection, [payment_event(topics.PAYMENT_CANCELLED, payment, source, reason=reason)])
    return {"id": payment_id, "before": payment.status, "status": "cancelled"}


async def retry(connection: AsyncConnection, payment_id: uuid.UUID, source: str) -> dict[str, Any]:
    """A failed payment gets one more attempt, now, even after its last automatic retry."""
    payment = await _locked(connection, payment_id)
    if payment.status not in RETRYABLE:
        raise TransitionRefused("retried", payment.status)
    await connection.execute(
        update(payments)
        .where(payments.c.id == payment_id)
        .values(
            status="scheduled",
            next_attempt_at=datetime.now(UTC),
            max_attempts=payments.c.attempts + 1,
            last_error="retried by a program officer",
        )
    )
    await add_events(connection, [payment_event(topics.PAYMENT_RESCHEDULED, payment, source)])
    return {"id": payment_id, "before": payment.status, "status": "scheduled"}
