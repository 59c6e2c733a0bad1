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

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import payments
from dsrs.events import topics
from dsrs.outbox.writer import OutgoingEvent
from dsrs.payment.events import payment_event, payment_with_region

NO_LONGER_ELIGIBLE = "no_longer_eligible"
HOUSEHOLD_DEACTIVATED = "household_deactivated"

# Each decided household's payments under the program that the decision is newer than: looked up one decided
# row at a time by the household alone, so that no index but the household's can serve it (OFFSET 0 keeps the
# planner from making it a join again). As a join, it was planned as a scan of every payment, or of every
# payment of the program in a status, a cost that grew with the registry.
FIND_DECIDED = text(
    "SELECT p.id, p.status, p.amount, p.assessment_id, d.assessment_id AS decided_assessment_id, "
    "d.amount AS decided_amount, na.household_version AS decided_version, na.assessed_at AS decided_at "
    "FROM unnest(CAST(:households AS uuid[]), CAST(:programs AS text[]), CAST(:assessments AS uuid[]), "
    "CAST(:amounts AS numeric[])) AS d(household_id, program_id, assessment_id, amount) "
    "CROSS JOIN LATERAL (SELECT p.id, p.program_id, p.status, p.amount, p.assessment_id FROM payments p "
    "WHERE p.household_id = d.household_id OFFSET 0) p "
    "JOIN eligibility_assessments pa ON pa.id = p.assessment_id "
    "JOIN eligibility_assessments na ON na.id = d.assessment_id "
    "WHERE p.program_id = d.program_id AND p.status IN ('scheduled', 'failed', 'sent') "
    "AND (na.household_version, na.assessed_at) > (pa.household_version, pa.assessed_at)"
)
# Payments found by id, changed only if still as read: nothing was locked when they were found, and another
# transaction may have sent, cancelled or amended one since.
_AS_FOUND = (
    "unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:read_assessments AS uuid[]){extra}) "
    "AS f(id, status, read_assessment_id{extra_names}) "
    "WHERE p.id = f.id AND p.status = f.status AND p.assessment_id = f.read_assessment_id"
)
_AS_FOUND_WITH_AMOUNTS = _AS_FOUND.format(
    extra=", CAST(:previous AS numeric[]), CAST(:assessments AS uuid[]), CAST(:amounts AS numeric[])",
    extra_names=", previous_amount, assessment_id, amount",
)
AMEND = text(
    "UPDATE payments p SET amount = f.amount, assessment_id = f.assessment_id, updated_at = now() "
    f"FROM {_AS_FOUND_WITH_AMOUNTS} AND p.amount = f.previous_amount RETURNING p.id, f.previous_amount"
)
CANCEL = text(
    "UPDATE payments p SET status = 'cancelled', last_error = :reason "
    f"FROM {_AS_FOUND.format(extra='', extra_names='')} RETURNING p.id"
)
# Sent by now, whatever its status when found: a payment the dispatcher sent after it was found is flagged too.
FLAG = text(
    "UPDATE payments p SET review_reason = :reason "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:read_assessments AS uuid[])) AS f(id, read_assessment_id) "
    "WHERE p.id = f.id AND p.assessment_id = f.read_assessment_id AND p.status = 'sent'"
)
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


async def _found(connection: AsyncConnection, decisions: Sequence[Decided]) -> list[Row[Any]]:
    """The payments that `decisions` are newer than; a payment two of them are newer than, with the newest."""
    columns = {
        "households": [d.household_id for d in decisions],
        "programs": [d.program_id for d in decisions],
        "assessments": [d.assessment_id for d in decisions],
        "amounts": [d.amount for d in decisions],
    }
    newest: dict[uuid.UUID, Row[Any]] = {}
    for row in await connection.execute(FIND_DECIDED, columns):
        kept = newest.get(row.id)
        if kept is None or (row.decided_version, row.decided_at) > (kept.decided_version, kept.decided_at):
            newest[row.id] = row
    return list(newest.values())


def _as_found(rows: Sequence[Row[Any]]) -> dict[str, list[Any]]:
    return {
        "ids": [row.id for row in rows],
        "statuses": [row.status for row in rows],
        "read_assessments": [row.assessment_id for row in rows],
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
    found = [
        row
        for row in await _found(connection, approvals)
        if row.status == "scheduled" and row.amount != row.decided_amount
    ]
    if not found:
        return []
    changed = await connection.execute(
        AMEND,
        {
            **_as_found(found),
            "previous": [row.amount for row in found],
            "assessments": [row.decided_assessment_id for row in found],
            "amounts": [row.decided_amount for row in found],
        },
    )
    previous = {row.id: row.previous_amount for row in changed}
    if not previous:
        return []
    ids = list(previous)
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
    found = await _found(connection, denials)
    unsent = [row for row in found if row.status in ("scheduled", "failed")]
    cancelled: list[uuid.UUID] = []
    if unsent:
        cancelled = [
            row.id for row in await connection.execute(CANCEL, {**_as_found(unsent), "reason": NO_LONGER_ELIGIBLE})
        ]
    # The rest are sent, or were sent while this batch ran: left to settle, flagged for review.
    cancelled_ids = set(cancelled)
    rest = [row for row in found if row.id not in cancelled_ids]
    if rest:
        await connection.execute(FLAG, {**_as_found(rest), "reason": NO_LONGER_ELIGIBLE})
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
