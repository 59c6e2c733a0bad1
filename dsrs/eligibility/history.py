"""Every assessment of a household, across its versions and every program version, newest first."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import eligibility_assessments, households

# What an assessment shows: the decision and why, never the household's personal fields.
SHOWN = (
    "id",
    "program_id",
    "policy_version",
    "program_sha256",
    "household_version",
    "decision",
    "score",
    "benefit_amount",
    "rule_results",
    "assessed_at",
    "reassessment_id",
)


async def household_assessments(
    connection: AsyncConnection, household_id: uuid.UUID, limit: int, after: uuid.UUID | None = None
) -> tuple[list[dict[str, Any]], uuid.UUID | None] | None:
    """A page of the household's assessments, newest first, after the assessment `after` (the previous
    page's last); None when there is no such household."""
    if not await connection.scalar(select(exists().where(households.c.id == household_id))):
        return None
    columns = eligibility_assessments.c
    query = (
        select(*(columns[name] for name in SHOWN))
        .where(columns.household_id == household_id)
        .order_by(columns.assessed_at.desc(), columns.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        assessed_at = await connection.scalar(
            select(columns.assessed_at).where(columns.id == after, columns.household_id == household_id)
        )
        if assessed_at is None:
            # Not one of this household's assessments: nothing comes after it.
            return [], None
        query = query.where(tuple_(columns.assessed_at, columns.id) < tuple_(assessed_at, after))
    rows = [dict(row._mapping) for row in await connection.execute(query)]
    page = rows[:limit]
    return page, page[-1]["id"] if len(rows) > limit else None
