"""A payment provider that runs locally: it settles asynchronously, after a latency, failing a share
of attempts, so the whole payment lifecycle can run without a real provider.

It keeps its books in its own table, as a real provider keeps its own: an accepted order survives
a crash of the worker, and a settlement is reported (at least once) even after a restart.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import simulated_provider_ledger as ledger
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.payment.providers.base import PaymentOrder, Receipt

FAILURE_REASONS = ("account closed", "recipient not found", "provider timeout", "limit exceeded")

_DUE = text(
    "SELECT reference, payment_id, amount, currency, outcome, reason, settle_at FROM simulated_provider_ledger "
    "WHERE reported_at IS NULL AND settle_at <= now() ORDER BY settle_at LIMIT :limit FOR UPDATE SKIP LOCKED"
)


class SimulatedProvider:
    source = "simulated-provider"

    def __init__(
        self, engine: AsyncEngine, latency_seconds: float, failure_rate: float, rng: random.Random | None = None
    ) -> None:
        self.engine = engine
        self.latency = timedelta(seconds=latency_seconds)
        self.failure_rate = failure_rate
        self.rng = rng or random.Random()  # noqa: S311 - simulated outcomes, not secrets

    async def submit(self, order: PaymentOrder) -> Receipt:
        failed = self.rng.random() < self.failure_rate
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(ledger)
                .values(
                    reference=f"SIM-{uuid.uuid4().hex[:16].upper()}",
                    idempotency_key=order.idempotency_key,
                    payment_id=order.payment_id,
                    amount=order.amount,
                    currency=order.currency,
                    outcome="failed" if failed else "completed",
                    reason=self.rng.choice(FAILURE_REASONS) if failed else None,
                    settle_at=datetime.now(UTC) + self.latency,
                )
                .on_conflict_do_nothing(index_elements=[ledger.c.idempotency_key])
            )
            reference = await connection.scalar(
                select(ledger.c.reference).where(ledger.c.idempotency_key == order.idempotency_key)
            )
        return Receipt(str(reference))

    async def report_due(self, producer: AIOKafkaProducer, topic: str, limit: int = 500) -> int:
        """Publish the settlements that are due, then mark them reported; returns how many."""
        async with self.engine.begin() as connection:
            rows = (await connection.execute(_DUE, {"limit": limit})).all()
            if not rows:
                return 0
            deliveries = []
            for row in rows:
                data = {
                    "reference": row.reference,
                    "payment_id": str(row.payment_id),
                    "status": row.outcome,
                    "amount": str(row.amount),
                    "currency": row.currency,
                    "settled_at": row.settle_at.isoformat(),
                    "reason": row.reason,
                }
                envelope = new_envelope(topics.PROVIDER_SETTLEMENT, str(row.payment_id), data, self.source)
                deliveries.append(
                    await producer.send(
                        topic,
                        envelope.to_wire(),
                        key=str(row.payment_id).encode(),
                        headers=[("traceparent", new_traceparent().encode())],
                    )
                )
            await asyncio.gather(*deliveries)
            await connection.execute(
                update(ledger)
                .where(ledger.c.reference.in_([row.reference for row in rows]))
                .values(reported_at=datetime.now(UTC))
            )
        return len(rows)
