"""Rows a test writes straight into the database: a household, and assessments of it as the eligibility stage
stores them."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.events.ids import new_uuid


async def insert_household(connection: AsyncConnection, household_id: uuid.UUID, name: str = "Test") -> None:
    await connection.execute(
        text(
            "INSERT INTO households (id, head_of_household_name, region, household_size, monthly_income) "
            "VALUES (:id, :name, 'R01', 1, 0)"
        ),
        {"id": household_id, "name": name},
    )


def assessment_row(
    household_id: uuid.UUID, program_id: str, version: int, decision: str, benefit: Decimal | int | None = None
) -> dict[str, Any]:
    """An assessment's row for dsrs.eligibility.records.store_assessments."""
    return {
        "id": new_uuid(),
        "household_id": household_id,
        "household_version": version,
        "program_id": program_id,
        "policy_version": "1",
        "program_sha256": None,
        "decision": decision,
        "score": None,
        "benefit_amount": benefit,
        "rule_results": [],
        "source_event_id": new_uuid(),
        "reassessment_id": None,
    }
