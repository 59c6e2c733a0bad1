"""Households in PostgreSQL: each change is written with its `registry.household.*` event, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.bulk import arrays, insert_arrays
from dsrs.db.schema import households
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.registry.household import HouseholdFields


class HouseholdNotFound(LookupError):
    pass


class HouseholdInactive(RuntimeError):
    """A deactivated household is not changed (and so not assessed) until it is reactivated."""


class VersionConflict(RuntimeError):
    def __init__(self, current_version: int) -> None:
        super().__init__(f"the household is at version {current_version}")
        self.current_version = current_version


@dataclass(slots=True)
class Submission:
    """A household to write, with the trace it belongs to."""

    household_id: uuid.UUID
    fields: HouseholdFields
    traceparent: str | None


@dataclass(slots=True)
class Recorded:
    household_id: uuid.UUID
    version: int
    created: bool
    # A deactivated household's record is kept up to date, but it is not assessed or matched again.
    active: bool = True


def _columns(fields: HouseholdFields) -> dict[str, Any]:
    return fields.model_dump()


def household_event(recorded: Recorded, fields: HouseholdFields, source: str, traceparent: str | None) -> OutgoingEvent:
    """The event downstream stages need. It carries eligibility facts only: no name, phone, email or address."""
    topic = topics.HOUSEHOLD_REGISTERED if recorded.created else topics.HOUSEHOLD_UPDATED
    data = {"household_id": str(recorded.household_id), "version": recorded.version, **fields.eligibility_facts()}
    envelope = new_envelope(topic, str(recorded.household_id), data, source)
    return OutgoingEvent(topic, envelope, traceparent)


HOUSEHOLD_COLUMNS = ("id", *HouseholdFields.model_fields)
_insert = insert_arrays(households, HOUSEHOLD_COLUMNS)
UPSERT = _insert.on_conflict_do_update(
    index_elements=[households.c.id],
    set_={
        **{name: _insert.excluded[name] for name in HouseholdFields.model_fields},
        "version": households.c.version + 1,
        "updated_at": func.now(),
    },
).returning(households.c.id, households.c.version, households.c.status)


def _rounds(submissions: Sequence[Submission]) -> list[list[Submission]]:
    """Split into runs in which each household appears once: one INSERT cannot change a row twice."""
    rounds: list[list[Submission]] = [[]]
    seen: set[uuid.UUID] = set()
    for submission in submissions:
        if submission.household_id in seen:
            rounds.append([])
            seen.clear()
        rounds[-1].append(submission)
        seen.add(submission.household_id)
    return [batch for batch in rounds if batch]


async def upsert_households(
    connection: AsyncConnection, submissions: Sequence[Submission], source: str
) -> tuple[list[Recorded], list[OutgoingEvent]]:
    """Create or replace households by id (the intake path); what was recorded, and the registered or updated
    events the caller adds to the outbox."""
    recorded: list[Recorded] = []
    events: list[OutgoingEvent] = []
    for batch in _rounds(submissions):
        rows = [{"id": submission.household_id, **_columns(submission.fields)} for submission in batch]
        result = await connection.execute(UPSERT, arrays(households, rows, HOUSEHOLD_COLUMNS))
        stored = {row.id: (int(row.version), row.status) for row in result}
        for submission in batch:
            version, status = stored[submission.household_id]
            # A new row starts at version 1; a replaced one has been bumped past it.
            outcome = Recorded(submission.household_id, version, created=version == 1, active=status == "active")
            recorded.append(outcome)
            if outcome.active:
                events.append(household_event(outcome, submission.fields, source, submission.traceparent))
    return recorded, events


async def create_household(connection: AsyncConnection, submission: Submission, source: str) -> Recorded:
    await connection.execute(insert(households).values(id=submission.household_id, **_columns(submission.fields)))
    recorded = Recorded(submission.household_id, 1, created=True)
    await add_events(connection, [household_event(recorded, submission.fields, source, submission.traceparent)])
    return recorded


async def replace_household(
    connection: AsyncConnection, submission: Submission, source: str, expected_version: int | None = None
) -> Recorded:
    """Replace an existing household's record; with `expected_version`, only if nobody changed it meanwhile."""
    found = (
        await connection.execute(
            select(households.c.version, households.c.status)
            .where(households.c.id == submission.household_id)
            .with_for_update()
        )
    ).one_or_none()
    if found is None:
        raise HouseholdNotFound(str(submission.household_id))
    current, status = found
    if status != "active":
        raise HouseholdInactive(str(submission.household_id))
    if expected_version is not None and expected_version != current:
        raise VersionConflict(int(current))
    version = await connection.scalar(
        update(households)
        .where(households.c.id == submission.household_id)
        .values(**_columns(submission.fields), version=households.c.version + 1, updated_at=func.now())
        .returning(households.c.version)
    )
    recorded = Recorded(submission.household_id, int(version or 0), created=False)
    await add_events(connection, [household_event(recorded, submission.fields, source, submission.traceparent)])
    return recorded


async def current_household(connection: AsyncConnection, household_id: uuid.UUID) -> dict[str, Any] | None:
    """The record as it stands, locked until the transaction ends, for an audit's "before"."""
    row = (
        await connection.execute(
            select(
                households.c.id, households.c.version, *(households.c[name] for name in HouseholdFields.model_fields)
            )
            .where(households.c.id == household_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    return {name: (str(value) if name in ("id", "monthly_income") else value) for name, value in row._mapping.items()}
