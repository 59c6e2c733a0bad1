"""What an assessment leaves in PostgreSQL, on the real database: a batch holding two versions of one
household stores both assessments and keeps the newer as its current decision."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.eligibility.records import store_assessments
from dsrs.events.ids import new_uuid

pytestmark = pytest.mark.integration


def _row(household_id: uuid.UUID, version: int, decision: str) -> dict[str, Any]:
    return {
        "id": new_uuid(),
        "household_id": household_id,
        "household_version": version,
        "program_id": "records-test",
        "policy_version": "1",
        "program_sha256": None,
        "decision": decision,
        "score": None,
        "benefit_amount": None,
        "rule_results": [],
        "source_event_id": new_uuid(),
        "reassessment_id": None,
    }


async def test_two_versions_of_one_household_in_a_batch_keep_the_newer_as_current(engine: AsyncEngine) -> None:
    household_id = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO households (id, head_of_household_name, region, household_size, monthly_income) "
                "VALUES (:id, 'Test', 'R01', 1, 0)"
            ),
            {"id": household_id},
        )
        rows = [_row(household_id, 1, "approved"), _row(household_id, 2, "denied")]
        stored = await store_assessments(connection, rows)
        current = (
            await connection.execute(
                text("SELECT household_version, decision FROM current_decisions WHERE household_id = :id"),
                {"id": household_id},
            )
        ).all()

    assert stored == {row["id"] for row in rows}
    assert [tuple(row) for row in current] == [(2, "denied")]
