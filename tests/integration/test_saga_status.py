"""What the tests, the demo and the benchmark read as "settled", on the real database: an approval of an
active household waits for its payment; one of a household that has left does not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.eligibility.records import store_assessments
from dsrs_dev.saga_status import saga_status
from tests.integration.assessments import assessment_row, insert_household

pytestmark = pytest.mark.integration


@pytest.fixture
async def approved_household(engine: AsyncEngine) -> AsyncIterator[uuid.UUID]:
    """An active household approved under a program, with no payment."""
    household_id = uuid.uuid4()
    async with engine.begin() as connection:
        await insert_household(connection, household_id, "Status Test")
        row = assessment_row(household_id, "status-test", 1, "approved", 10)
        await store_assessments(connection, [row])
    yield household_id
    async with engine.begin() as connection:
        for table in ("current_decisions", "eligibility_assessments", "households"):
            column = "id" if table == "households" else "household_id"
            await connection.execute(text(f"DELETE FROM {table} WHERE {column} = :id"), {"id": household_id})


async def test_an_approval_without_payment_is_unpaid_only_while_its_household_is_active(
    engine: AsyncEngine, approved_household: uuid.UUID
) -> None:
    active = await saga_status(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE households SET status = 'inactive' WHERE id = :id"), {"id": approved_household}
        )
    left = await saga_status(engine)

    # The household left before its approval reached the payment stage, which rightly pays it nothing.
    assert left.approved_unpaid == active.approved_unpaid - 1
    assert left.approved == active.approved
