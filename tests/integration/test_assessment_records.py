"""What an assessment leaves in PostgreSQL, on the real database: a batch holding two versions of one
household stores both assessments and keeps the newer as its current decision."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.eligibility.records import store_assessments
from tests.integration.assessments import assessment_row, insert_household

pytestmark = pytest.mark.integration


async def test_two_versions_of_one_household_in_a_batch_keep_the_newer_as_current(engine: AsyncEngine) -> None:
    household_id = uuid.uuid4()
    async with engine.begin() as connection:
        await insert_household(connection, household_id)
        rows = [
            assessment_row(household_id, "records-test", 1, "approved"),
            assessment_row(household_id, "records-test", 2, "denied"),
        ]
        stored = await store_assessments(connection, rows)
        current = (
            await connection.execute(
                text("SELECT household_version, decision FROM current_decisions WHERE household_id = :id"),
                {"id": household_id},
            )
        ).all()

    assert stored == {row["id"] for row in rows}
    assert [tuple(row) for row in current] == [(2, "denied")]
