"""Payments follow eligibility: a newer assessment's benefit amends the payments not yet sent, a denial
cancels them, and a household that left has its unsent payments cancelled. A payment already out is left
to settle and flagged for review.

"Newer" compares the assessments themselves (household version, then time), not the order events
arrive in: approvals and denials come on two topics, which Kafka does not order against each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import payments
from dsrs.events import topics
from dsrs.outbox.writer import OutgoingEvent
from dsrs.payment.events import payment_event, payment_with_region

NO_LONGER_ELIGIBLE = "no_longer_eligible"
HOUSEHOLD_DEACTIVATED = "household_deactivated"

# (household, program, assessment[, amount]) rows, one per household and program.
_DECIDED = (
    "unnest(CAST(:households AS uuid[]), CAST(:programs AS text[]), CAST(:assessments AS uuid[]){extra}) "
    "AS d(household_id, program_id, assessment_id{extra_name}), "
    "eligibility_assessments pa, eligibility_assessments na"
)
_DENIED = _DECIDED.format(extra="", extra_name="")
_APPROVED = _DECIDED.format(extra=", CAST(:amounts AS numeric[])", extra_name=", amount")
# The decision is newer than the one the payment was made from.
_NEWER = (
    "p.household_id = d.household_id AND p.program_id = d.program_id "
    "AND pa.id = p.assessment_id AND na.id = d.assessment_id "
    "AND (na.household_version, na.assessed_at) > (pa.household_version, pa.assessed_at)"
)
AMEND = text(
    "WITH amended AS (SELECT p.id, p.amount AS previous_amount, d.assessment_id, d.amount "
    f"FROM payments p, {_APPROVED} WHERE {_NEWER} AND p.status = 'scheduled' AND p.amount <> d.amount "
    "FOR UPDATE OF p) "
    "UPDATE payments p SET amount = amended.amount, assessment_id = amended.assessment_id, updated_at = now() "
    "FROM amended WHERE p.id = amended.id AND p.status = 'scheduled' "
    "RETURNING p.id, amended.previous_amount"
)
CANCEL_DENIED = text(
    f"WITH denied AS (SELECT p.id FROM payments p, {_DENIED} WHERE {_NEWER} "
    "AND p.status IN ('scheduled', 'failed') FOR UPDATE OF p) "
    "UPDATE payments p SET status = 'cancelled', last_error = :reason FROM denied "
    "WHERE p.id = denied.id AND p.status IN ('scheduled', 'failed') RETURNING p.id"
)
FLAG_DENIED = text(f"UPDATE payments p SET review_reason = :reason FROM {_DENIED} WHERE {_NEWER} AND p.status = 'sent'")
CANCEL_HOUSEHOLDS = text(
    "UPDATE payments SET status = 'cancelled', last_error = :reason "
    "WHERE household_id = ANY(CAST(:households AS uuid[])) AND status IN ('scheduled', 'failed') RETURNING id"
)
FLAG_HOUSEHOLDS = text(
    "UPDATE payments SET review_reason = :reason "
    "WHERE household_id = ANY(CAST(:households AS uuid[])) AND status = 'sent'"
)
RECORD_AMENDMENT = text(
    "INSERT INTO payment_transitions (payment_id, from_status, to_status, attempt, reason) "
    "SELECT p.id, p.status, p.status, p.attempts, :reason || ' ' || a.previous || ' -> ' || p.amount "
    "|| ' (assessment ' || p.assessment_id || ')' "
    "FROM payments p JOIN unnest(CAST(:ids AS uuid[]), CAST(:previous AS numeric[])) AS a(id, previous) ON a.id = p.id"
)


@dataclass(frozen=True)
class Decided:
    """A household's newest decision under a program, as the eligibility stage made it."""

    household_id: uuid.UUID
    program_id: str
    assessment_id: uuid.UUID
    amount: Decimal | None  # the benefit of an approval; None for a denial


def _columns(decisions: Sequence[Decided]) -> dict[str, list[Any]]:
    return {
        "households": [d.household_id for d in decisions],
        "programs": [d.program_id for d in decisions],
        "assessments": [d.assessment_id for d in decisions],
    }


async def _events(
    connection: AsyncConnection, topic: str, ids: Sequence[uuid.UUID], source: str, **extra: Any
) -> list[OutgoingEvent]:
    if not ids:
        return []
    rows = await connection.execute(payment_with_region().where(payments.c.id.in_(ids)).order_by(payments.c.id))
    return [payment_event(topic, row, source, **extra) for row in rows]


async def amend(connection: AsyncConnection, approvals: Sequence[Decided], source: str) -> list[OutgoingEvent]:
    """Unsent payments take the newest approval's benefit, in place: one `payment.amended` each, with why."""
    if not approvals:
        return []
    found = (await connection.execute(AMEND, {**_columns(approvals), "amounts": [d.amount for d in approvals]})).all()
    if not found:
        return []
    ids = [row.id for row in found]
    previous = {row.id: row.previous_amount for row in found}
    reason = "amended: the benefit changed"
    await connection.execute(RECORD_AMENDMENT, {"ids": ids, "previous": [previous[i] for i in ids], "reason": reason})
    rows = await connection.execute(payment_with_region().where(payments.c.id.in_(ids)).order_by(payments.c.id))
    return [
        payment_event(
            topics.PAYMENT_AMENDED,
            row,
            source,
            previous_amount=str(previous[row.id]),
            assessment_id=str(row.assessment_id),
            reason="benefit_changed",
        )
        for row in rows
    ]


async def cancel_denied(connection: AsyncConnection, denials: Sequence[Decided], source: str) -> list[OutgoingEvent]:
    """A denial newer than a payment's assessment cancels it if unsent, and flags it for review if sent."""
    if not denials:
        return []
    columns = {**_columns(denials), "reason": NO_LONGER_ELIGIBLE}
    cancelled = [row.id for row in await connection.execute(CANCEL_DENIED, columns)]
    await connection.execute(FLAG_DENIED, columns)
    return await _events(connection, topics.PAYMENT_CANCELLED, cancelled, source, reason=NO_LONGER_ELIGIBLE)


async def cancel_households(
    connection: AsyncConnection, household_ids: Sequence[uuid.UUID], source: str
) -> list[OutgoingEvent]:
    """Households that left: every unsent payment cancelled, every sent one flagged for review."""
    if not household_ids:
        return []
    columns = {"households": list(household_ids), "reason": HOUSEHOLD_DEACTIVATED}
    cancelled = [row.id for row in await connection.execute(CANCEL_HOUSEHOLDS, columns)]
    await connection.execute(FLAG_HOUSEHOLDS, columns)
    return await _events(connection, topics.PAYMENT_CANCELLED, cancelled, source, reason=HOUSEHOLD_DEACTIVATED)
