"""Schedules a payment for each approval: one per household, program and cycle, with its event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Text, cast
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.bulk import arrays, insert_arrays
from dsrs.db.schema import payments
from dsrs.dlq.causes import PROGRAMS
from dsrs.events import topics
from dsrs.events.envelope import InvalidEvent, decode_envelope_of, new_envelope
from dsrs.events.ids import new_uuid
from dsrs.events.incoming import Incoming
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.payment.cycle import next_cycle
from dsrs.rules import Program
from dsrs.streams.errors import PermanentError
from dsrs.streams.processing import Decoded, claimed, event_id_of

PAYMENT_COLUMNS = (
    "id",
    "household_id",
    "assessment_id",
    "program_id",
    "cycle",
    "amount",
    "currency",
    "due_date",
    "settle_by",
    "max_attempts",
    "idempotency_key",
)
INSERT_PAYMENT = (
    insert_arrays(payments, PAYMENT_COLUMNS)
    .on_conflict_do_nothing()
    # The id as text, the form it was made in (dsrs.events.ids).
    .returning(cast(payments.c.id, Text).label("id"), payments.c.cycle, payments.c.due_date)
)


@dataclass(slots=True)
class Approval:
    event_id: str
    assessment_id: uuid.UUID
    household_id: uuid.UUID
    program_id: str
    amount: Decimal
    currency: str
    region: str
    approved_at: datetime
    traceparent: str | None


class PaymentScheduler:
    consumer = "payment"

    def __init__(
        self,
        engine: AsyncEngine,
        programs: Sequence[Program],
        source: str,
        max_attempts: int = 5,
        settlement_days: int = 5,
    ) -> None:
        self.engine = engine
        self.programs = {program.id: program for program in programs}
        self.source = source
        self.max_attempts = max_attempts
        self.settlement_days = timedelta(days=settlement_days)

    def decode(self, message: Incoming) -> Approval:
        envelope = decode_envelope_of(message.value, topics.ASSESSED_APPROVED)
        data = envelope.data
        try:
            amount = Decimal(str(data["benefit_amount"]))
            approval = Approval(
                event_id=envelope.event_id,
                assessment_id=uuid.UUID(str(data["assessment_id"])),
                household_id=uuid.UUID(str(data["household_id"])),
                program_id=str(data["program_id"]),
                amount=amount,
                currency=str(data["currency"]),
                region=str(data["region"]),
                approved_at=envelope.time,
                traceparent=message.header(TRACEPARENT),
            )
        except (KeyError, ValueError, InvalidOperation):
            raise InvalidEvent(
                "data: assessment_id, household_id, program_id, benefit_amount, currency and region are required"
            ) from None
        if not amount > 0:
            raise InvalidEvent("data.benefit_amount: an approval must carry a positive amount")
        return approval

    def _program(self, program_id: str) -> Program:
        try:
            return self.programs[program_id]
        except KeyError:
            raise PermanentError(f"program {program_id!r} is not configured on this worker", PROGRAMS) from None

    async def handle(self, batch: Sequence[Decoded[Approval]]) -> None:
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, approvals):
            rows = [self._row(approval) for approval in approvals]
            if not rows:
                return
            # A second approval in the same cycle (say, after an update) does not pay twice.
            inserted = await connection.execute(INSERT_PAYMENT, arrays(payments, rows, PAYMENT_COLUMNS))
            stored = {row.id: row for row in inserted}
            events = [
                self._event(approval, row["id"], stored[row["id"]].cycle, stored[row["id"]].due_date.isoformat())
                for approval, row in zip(approvals, rows, strict=True)
                if row["id"] in stored
            ]
            await add_events(connection, events)

    def _row(self, approval: Approval) -> dict[str, Any]:
        program = self._program(approval.program_id)
        cycle, due_date = next_cycle(approval.approved_at, program.payment_day)
        return {
            "id": new_uuid(),
            "household_id": approval.household_id,
            "assessment_id": approval.assessment_id,
            "program_id": approval.program_id,
            "cycle": cycle,
            "amount": approval.amount,
            "currency": approval.currency,
            "due_date": due_date,
            "settle_by": due_date + self.settlement_days,
            "max_attempts": self.max_attempts,
            "idempotency_key": f"assessment:{approval.assessment_id}",
        }

    def _event(self, approval: Approval, payment_id: str, cycle: str, due_date: str) -> OutgoingEvent:
        data = {
            "payment_id": payment_id,
            "household_id": str(approval.household_id),
            "assessment_id": str(approval.assessment_id),
            "program_id": approval.program_id,
            "region": approval.region,
            "cycle": cycle,
            "amount": str(approval.amount),
            "currency": approval.currency,
            "due_date": due_date,
            "status": "scheduled",
        }
        envelope = new_envelope(topics.PAYMENT_SCHEDULED, str(approval.household_id), data, self.source)
        return OutgoingEvent(topics.PAYMENT_SCHEDULED, envelope, approval.traceparent)
