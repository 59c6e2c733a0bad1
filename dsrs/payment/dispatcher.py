"""Sends due payments to the provider: scheduled -> sent, with a `payment.sent` event.

Each attempt has its own idempotency key, so a crash between the provider accepting an order and
our marking it sent resubmits the same attempt, and the provider pays it once.

Held, and so not sent: payments of a household the registry suspects is a duplicate (a pair of
`duplicate_pairs` raised on it and still `suspected`), and of a household no longer active, whose
unsent payments the payment agent is about to cancel.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import exists, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import duplicate_pairs, households, payments
from dsrs.events import topics
from dsrs.outbox.writer import add_events
from dsrs.payment.events import payment_event, payment_with_region
from dsrs.payment.providers.base import PaymentOrder, PaymentProvider

# The registry's hold travels through PostgreSQL: the payment stage imports no other stage.
HELD_AS_DUPLICATE = exists().where(
    duplicate_pairs.c.household_id == payments.c.household_id, duplicate_pairs.c.status == "suspected"
)


class PaymentDispatcher:
    def __init__(
        self, engine: AsyncEngine, provider: PaymentProvider, source: str, send_ahead_days: int, batch: int = 200
    ) -> None:
        self.engine = engine
        self.provider = provider
        self.source = source
        self.send_ahead = timedelta(days=send_ahead_days)
        self.batch = batch

    async def dispatch_due(self) -> int:
        """Send one batch of due payments; returns how many were sent."""
        horizon = date.today() + self.send_ahead
        async with self.engine.begin() as connection:
            due = (
                await connection.execute(
                    payment_with_region()
                    .where(payments.c.status == "scheduled")
                    .where(payments.c.due_date <= horizon)
                    .where(households.c.status == "active", ~HELD_AS_DUPLICATE)
                    .where(or_(payments.c.next_attempt_at.is_(None), payments.c.next_attempt_at <= datetime.now(UTC)))
                    .order_by(payments.c.due_date, payments.c.id)
                    .limit(self.batch)
                    .with_for_update(of=payments, skip_locked=True)
                )
            ).all()
            events = []
            for payment in due:
                attempt = payment.attempts + 1
                receipt = await self.provider.submit(
                    PaymentOrder(
                        payment.id, payment.amount, payment.currency, f"{payment.id}:{attempt}", payment.household_id
                    )
                )
                await connection.execute(
                    update(payments)
                    .where(payments.c.id == payment.id)
                    .values(status="sent", attempts=attempt, provider_reference=receipt.reference, last_error=None)
                )
                events.append(
                    payment_event(
                        topics.PAYMENT_SENT, payment, self.source, attempt=attempt, reference=receipt.reference
                    )
                )
            await add_events(connection, events)
        return len(due)
