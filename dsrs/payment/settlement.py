"""Applies the provider's settlements: sent -> completed, or sent -> failed and, while attempts
remain, failed -> scheduled again after an exponential backoff. Anything that does not fit a sent
payment is recorded as a reconciliation mismatch instead of changing state."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.schema import payments, reconciliation_mismatches
from dsrs.events import topics
from dsrs.events.envelope import InvalidEvent, decode_envelope_of
from dsrs.events.incoming import Incoming
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.payment.events import payment_event, payment_with_region
from dsrs.streams.processing import Decoded, claimed, event_id_of


@dataclass(frozen=True)
class Settlement:
    event_id: str
    reference: str
    payment_id: uuid.UUID
    completed: bool
    amount: Decimal
    reason: str | None
    settled_at: datetime
    traceparent: str | None


def retry_delay(attempt: int, base_seconds: float) -> timedelta:
    return timedelta(seconds=base_seconds * 2 ** (attempt - 1))


async def record_mismatch(
    connection: AsyncConnection, kind: str, details: dict[str, Any], payment_id: uuid.UUID | None, reference: str | None
) -> None:
    await connection.execute(
        insert(reconciliation_mismatches).values(kind=kind, payment_id=payment_id, reference=reference, details=details)
    )


class SettlementHandler:
    consumer = "payment-settlement"

    def __init__(self, engine: AsyncEngine, source: str, retry_base_seconds: float) -> None:
        self.engine = engine
        self.source = source
        self.retry_base_seconds = retry_base_seconds

    def decode(self, message: Incoming) -> Settlement:
        envelope = decode_envelope_of(message.value, topics.PROVIDER_SETTLEMENT)
        data = envelope.data
        try:
            status = data["status"]
            if status not in ("completed", "failed"):
                raise ValueError
            return Settlement(
                event_id=envelope.event_id,
                reference=str(data["reference"]),
                payment_id=uuid.UUID(str(data["payment_id"])),
                completed=status == "completed",
                amount=Decimal(str(data["amount"])),
                reason=data.get("reason"),
                settled_at=datetime.fromisoformat(str(data["settled_at"])),
                traceparent=message.header(TRACEPARENT),
            )
        except (KeyError, ValueError, InvalidOperation):
            raise InvalidEvent(
                "data: reference, payment_id, status (completed|failed), amount and settled_at are required"
            ) from None

    async def handle(self, batch: Sequence[Decoded[Settlement]]) -> None:
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, fresh):
            events: list[OutgoingEvent] = []
            for settlement in fresh:
                events.extend(await self._apply(connection, settlement))
            await add_events(connection, events)

    async def _apply(self, connection: AsyncConnection, settlement: Settlement) -> list[OutgoingEvent]:
        payment = (
            await connection.execute(
                payment_with_region().where(payments.c.id == settlement.payment_id).with_for_update(of=payments)
            )
        ).one_or_none()
        details = {"amount": str(settlement.amount), "status": "completed" if settlement.completed else "failed"}
        if payment is None:
            await record_mismatch(connection, "unknown_reference", details, None, settlement.reference)
            return []
        if payment.status != "sent" or payment.provider_reference != settlement.reference:
            details["payment_status"] = payment.status
            await record_mismatch(connection, "duplicate_settlement", details, payment.id, settlement.reference)
            return []
        if settlement.completed:
            if settlement.amount != payment.amount:
                details["expected_amount"] = str(payment.amount)
                await record_mismatch(connection, "amount_mismatch", details, payment.id, settlement.reference)
            await connection.execute(
                update(payments)
                .where(payments.c.id == payment.id)
                .values(status="completed", settled_amount=settlement.amount, settled_at=settlement.settled_at)
            )
            return [
                payment_event(
                    topics.PAYMENT_COMPLETED,
                    payment,
                    self.source,
                    settlement.traceparent,
                    reference=settlement.reference,
                    settled_amount=str(settlement.amount),
                )
            ]
        final = payment.attempts >= payment.max_attempts
        reason = settlement.reason or "failed at the provider"
        await connection.execute(
            update(payments).where(payments.c.id == payment.id).values(status="failed", last_error=reason)
        )
        if not final:
            retry_at = datetime.now(UTC) + retry_delay(payment.attempts, self.retry_base_seconds)
            await connection.execute(
                update(payments)
                .where(payments.c.id == payment.id)
                .values(status="scheduled", next_attempt_at=retry_at, last_error=f"retry after: {reason}")
            )
        return [
            payment_event(
                topics.PAYMENT_FAILED,
                payment,
                self.source,
                settlement.traceparent,
                reference=settlement.reference,
                reason=reason,
                final=final,
            )
        ]
