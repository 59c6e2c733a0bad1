"""Reads of the registry for the API: one household with its decisions, payments and duplicate pairs, and
filtered pages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import duplicate_pairs, eligibility_assessments, households, payments

PROGRAM_STATUSES = ("approved", "denied", "pending")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_after: str | None


def _household(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def get_household(connection: AsyncConnection, household_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await connection.execute(select(households).where(households.c.id == household_id))).first()
    if row is None:
        return None
    household = _household(row)
    # The decision that stands for each program is the newest one about the current version.
    assessments = await connection.execute(
        select(eligibility_assessments)
        .where(
            eligibility_assessments.c.household_id == household_id,
            eligibility_assessments.c.household_version == household["version"],
        )
        .order_by(eligibility_assessments.c.program_id, eligibility_assessments.c.assessed_at.desc())
        .distinct(eligibility_assessments.c.program_id)
    )
    household["assessments"] = [dict(a._mapping) for a in assessments]
    paid = await connection.execute(
        select(payments).where(payments.c.household_id == household_id).order_by(payments.c.created_at)
    )
    household["payments"] = [dict(p._mapping) for p in paid]
    # Every pair it is in, whatever became of it: how its history links to another household's.
    pairs = await connection.execute(
        select(duplicate_pairs)
        .where(or_(duplicate_pairs.c.household_id == household_id, duplicate_pairs.c.candidate_id == household_id))
        .order_by(duplicate_pairs.c.id)
    )
    household["duplicates"] = [dict(p._mapping) for p in pairs]
    return household


async def count_households(connection: AsyncConnection) -> int:
    return int(await connection.scalar(select(func.count()).select_from(households)) or 0)


async def list_households(
    connection: AsyncConnection,
    limit: int,
    after: uuid.UUID | None = None,
    region: str | None = None,
    program: str | None = None,
    status: str | None = None,
) -> Page:
    """A page in id order: `after` is the last id of the previous page (keyset pagination, no OFFSET)."""
    query = select(households).order_by(households.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(households.c.id > after)
    if region is not None:
        query = query.where(households.c.region == region)
    if program is not None and status is not None:
        current = and_(
            eligibility_assessments.c.household_id == households.c.id,
            eligibility_assessments.c.household_version == households.c.version,
            eligibility_assessments.c.program_id == program,
        )
        if status == "pending":
            query = query.where(~exists().where(current))
        else:
            query = query.where(exists().where(current, eligibility_assessments.c.decision == status))
    rows = (await connection.execute(query)).all()
    items = [_household(row) for row in rows[:limit]]
    next_after = str(items[-1]["id"]) if len(rows) > limit else None
    return Page(items, next_after)
