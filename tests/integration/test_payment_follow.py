"""Payments follow a household's newer decisions, on the real database: an approval with another benefit
amends the unsent payments under its program, a denial cancels them and flags those already sent, and an
older decision, or another program's, changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.eligibility.records import store_assessments
from dsrs.events import topics
from dsrs.events.ids import new_uuid
from dsrs.payment import follow
from dsrs.payment.follow import FIND_DECIDED, NO_LONGER_ELIGIBLE, Decided, amend, cancel_denied
from tests.integration.assessments import assessment_row, insert_household

pytestmark = pytest.mark.integration

PROGRAM = "follow-test"
OTHER_PROGRAM = "follow-other"
BATCH = 500


@dataclass(frozen=True)
class Paid:
    household_id: uuid.UUID
    first: dict[str, Any]  # the version-2 approval the payments were made from
    unsent: str
    sent: str
    other_program: str


def _payment(assessment: dict[str, Any], cycle: str, status: str) -> dict[str, Any]:
    return {
        "id": new_uuid(),
        "household_id": assessment["household_id"],
        "assessment_id": assessment["id"],
        "program_id": assessment["program_id"],
        "cycle": cycle,
        "amount": assessment["benefit_amount"],
        "status": status,
        "due_date": date(2026, 12, 1),
        "settle_by": date(2026, 12, 15),
        "idempotency_key": new_uuid(),
    }


@pytest.fixture
async def paid(engine: AsyncEngine) -> AsyncIterator[Paid]:
    """A household approved at version 2 under two programs, with an unsent and a sent payment under the
    first and an unsent one under the other."""
    household_id = uuid.uuid4()
    first = assessment_row(household_id, PROGRAM, 2, "approved", Decimal("100.00"))
    other = assessment_row(household_id, OTHER_PROGRAM, 2, "approved", Decimal("30.00"))
    rows = [
        _payment(first, "2026-12", "scheduled"),
        _payment(first, "2026-11", "sent"),
        _payment(other, "2026-12", "scheduled"),
    ]
    async with engine.begin() as connection:
        await insert_household(connection, household_id)
        await store_assessments(connection, [first, other])
        await connection.execute(
            text(
                "INSERT INTO payments (id, household_id, assessment_id, program_id, cycle, amount, currency, "
                "status, due_date, settle_by, idempotency_key) VALUES (:id, :household_id, :assessment_id, "
                ":program_id, :cycle, :amount, 'USD', :status, :due_date, :settle_by, :idempotency_key)"
            ),
            rows,
        )
    yield Paid(household_id, first, rows[0]["id"], rows[1]["id"], rows[2]["id"])
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "DELETE FROM payment_transitions WHERE payment_id IN (SELECT id FROM payments WHERE household_id = :id)"
            ),
            {"id": household_id},
        )
        for table in ("payments", "current_decisions", "eligibility_assessments", "households"):
            column = "id" if table == "households" else "household_id"
            await connection.execute(text(f"DELETE FROM {table} WHERE {column} = :id"), {"id": household_id})


async def _decide(
    engine: AsyncEngine, household_id: uuid.UUID, version: int, decision: str, benefit: str | None
) -> Decided:
    row = assessment_row(household_id, PROGRAM, version, decision, None if benefit is None else Decimal(benefit))
    async with engine.begin() as connection:
        await store_assessments(connection, [row])
    return Decided(household_id, PROGRAM, uuid.UUID(row["id"]), row["benefit_amount"])


async def _payments(engine: AsyncEngine, household_id: uuid.UUID) -> dict[str, tuple[Any, ...]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, status, amount, last_error, review_reason FROM payments WHERE household_id = :id"),
            {"id": household_id},
        )
        return {str(row.id): (row.status, row.amount, row.last_error, row.review_reason) for row in rows}


async def test_a_newer_benefit_amends_only_the_unsent_payment_under_its_program(
    engine: AsyncEngine, paid: Paid
) -> None:
    newer = await _decide(engine, paid.household_id, 3, "approved", "150.00")
    async with engine.begin() as connection:
        events = await amend(connection, [newer], "test")

    after = await _payments(engine, paid.household_id)
    assert [(e.topic, e.envelope.data["payment_id"]) for e in events] == [(topics.PAYMENT_AMENDED, paid.unsent)]
    assert after[paid.unsent] == ("scheduled", Decimal("150.00"), None, None)
    assert after[paid.sent] == ("sent", Decimal("100.00"), None, None)
    assert after[paid.other_program] == ("scheduled", Decimal("30.00"), None, None)


async def test_an_older_approval_amends_nothing(engine: AsyncEngine, paid: Paid) -> None:
    older = await _decide(engine, paid.household_id, 1, "approved", "150.00")
    before = await _payments(engine, paid.household_id)
    async with engine.begin() as connection:
        events = await amend(connection, [older], "test")

    assert events == []
    assert await _payments(engine, paid.household_id) == before


async def test_a_newer_denial_cancels_the_unsent_payment_and_flags_the_sent_one(
    engine: AsyncEngine, paid: Paid
) -> None:
    denial = await _decide(engine, paid.household_id, 3, "denied", None)
    async with engine.begin() as connection:
        events = await cancel_denied(connection, [denial], "test")

    after = await _payments(engine, paid.household_id)
    assert [(e.topic, e.envelope.data["payment_id"]) for e in events] == [(topics.PAYMENT_CANCELLED, paid.unsent)]
    assert after[paid.unsent] == ("cancelled", Decimal("100.00"), NO_LONGER_ELIGIBLE, None)
    assert after[paid.sent] == ("sent", Decimal("100.00"), None, NO_LONGER_ELIGIBLE)
    assert after[paid.other_program] == ("scheduled", Decimal("30.00"), None, None)


async def test_a_payment_sent_after_it_was_found_is_flagged_not_cancelled(
    engine: AsyncEngine, paid: Paid, monkeypatch: pytest.MonkeyPatch
) -> None:
    denial = await _decide(engine, paid.household_id, 3, "denied", None)
    find = follow._found

    async def found_then_sent(connection: AsyncConnection, decisions: Sequence[Decided]) -> list[Row[Any]]:
        rows = await find(connection, decisions)
        # The dispatcher, on another connection, sends the unsent payment once it has been found.
        async with engine.begin() as dispatcher:
            await dispatcher.execute(text("UPDATE payments SET status = 'sent' WHERE id = :id"), {"id": paid.unsent})
        return rows

    monkeypatch.setattr(follow, "_found", found_then_sent)
    async with engine.begin() as connection:
        events = await cancel_denied(connection, [denial], "test")

    after = await _payments(engine, paid.household_id)
    assert events == []
    assert after[paid.unsent] == ("sent", Decimal("100.00"), None, NO_LONGER_ELIGIBLE)
    assert after[paid.sent] == ("sent", Decimal("100.00"), None, NO_LONGER_ELIGIBLE)


async def test_an_older_denial_cancels_nothing(engine: AsyncEngine, paid: Paid) -> None:
    older = await _decide(engine, paid.household_id, 1, "denied", None)
    before = await _payments(engine, paid.household_id)
    async with engine.begin() as connection:
        events = await cancel_denied(connection, [older], "test")

    assert events == []
    assert await _payments(engine, paid.household_id) == before


def _reads_of(plan: dict[str, Any], relation: str) -> Iterator[tuple[str, str]]:
    """How the plan reads `relation`: each scan's type and index condition (a bitmap scan's, from its index)."""
    if plan.get("Relation Name") == relation and plan["Node Type"] != "ModifyTable":
        children = plan.get("Plans", [])
        condition = plan.get("Index Cond") or " ".join(c.get("Index Cond", "") for c in children)
        yield plan["Node Type"], condition
    for child in plan.get("Plans", []):
        yield from _reads_of(child, relation)


async def test_a_batch_of_decisions_looks_up_only_its_own_households_payments(engine: AsyncEngine, paid: Paid) -> None:
    """Planned as a join, finding the payments a batch's decisions are newer than read every payment in the
    table (by scan, or through the index of a program's payments in a status), a cost that grew with the
    registry: it must look them up by each decided household, before and after the table's statistics are
    taken. The updates that follow take the payments found by id."""
    decided = await _decide(engine, paid.household_id, 3, "approved", "150.00")
    async with engine.begin() as connection:
        # Other households' payments under the same program, rolled back with the test.
        filler = await connection.execute(
            text(
                "WITH filler AS (INSERT INTO households (id, head_of_household_name, region, household_size, "
                "monthly_income) SELECT gen_random_uuid(), 'Filler', 'R01', 1, 0 FROM generate_series(1, :n) "
                "RETURNING id) "
                "INSERT INTO payments (id, household_id, assessment_id, program_id, cycle, amount, currency, status, "
                "due_date, settle_by, idempotency_key) SELECT gen_random_uuid(), id, :assessment, :program, "
                "'2026-12', 1, 'USD', (ARRAY['scheduled', 'sent'])[1 + (random() < 0.5)::int], "
                "'2026-12-01', '2026-12-15', gen_random_uuid()::text FROM filler RETURNING household_id"
            ),
            {"n": 5000, "assessment": paid.first["id"], "program": PROGRAM},
        )
        # A batch's worth of decisions, as the payment stage takes them.
        households = [decided.household_id, *filler.scalars().all()[: BATCH - 1]]
        parameters = {
            "households": households,
            "programs": [PROGRAM] * BATCH,
            "assessments": [decided.assessment_id] * BATCH,
            "amounts": [decided.amount] * BATCH,
        }
        for analysed in (False, True):
            if analysed:
                await connection.execute(text("ANALYZE payments"))
            plan = await connection.scalar(text(f"EXPLAIN (FORMAT JSON) {FIND_DECIDED.text}"), parameters)
            scans = list(_reads_of(plan[0]["Plan"], "payments"))
            assert scans, plan
            assert all("household_id = d.household_id" in condition for _, condition in scans), (analysed, scans)
        await connection.rollback()
