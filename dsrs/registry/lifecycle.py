"""Households leave a program (deactivated, with a reason) and come back (reactivated), each change with
its `registry.household.*` event in the same transaction.

Deactivation keeps the version: nothing eligibility reads has changed. Reactivation makes a new version,
so that the household is assessed afresh (one assessment per version and policy).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import households
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.registry.household import HouseholdFields
from dsrs.registry.store import HouseholdNotFound

DEACTIVATION_REASONS = ("moved", "deceased", "withdrew", "duplicate", "other")


class StatusUnchanged(RuntimeError):
    def __init__(self, status: str) -> None:
        super().__init__(f"the household is already {status}")
        self.status = status


@dataclass(frozen=True)
class StatusChange:
    household_id: uuid.UUID
    version: int
    before: dict[str, Any]
    after: dict[str, Any]


async def _locked(connection: AsyncConnection, household_id: uuid.UUID) -> Any:
    row = (
        await connection.execute(select(households).where(households.c.id == household_id).with_for_update())
    ).one_or_none()
    if row is None:
        raise HouseholdNotFound(str(household_id))
    return row


def _event(topic: str, household_id: uuid.UUID, data: dict[str, Any], source: str, trace: str | None) -> OutgoingEvent:
    envelope = new_envelope(topic, str(household_id), {"household_id": str(household_id), **data}, source)
    return OutgoingEvent(topic, envelope, trace)


async def deactivate(
    connection: AsyncConnection, household_id: uuid.UUID, reason: str, source: str, traceparent: str | None
) -> StatusChange:
    if reason not in DEACTIVATION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(DEACTIVATION_REASONS)}")
    row = await _locked(connection, household_id)
    if row.status == "inactive":
        raise StatusUnchanged("inactive")
    await connection.execute(
        update(households)
        .where(households.c.id == household_id)
        .values(status="inactive", status_reason=reason, updated_at=func.now())
    )
    data = {"version": row.version, "reason": reason}
    await add_events(connection, [_event(topics.HOUSEHOLD_DEACTIVATED, household_id, data, source, traceparent)])
    before = {"id": str(household_id), "status": row.status, "version": row.version}
    return StatusChange(household_id, row.version, before, {**before, "status": "inactive", "reason": reason})


async def reactivate(
    connection: AsyncConnection, household_id: uuid.UUID, source: str, traceparent: str | None
) -> StatusChange:
    row = await _locked(connection, household_id)
    if row.status == "active":
        raise StatusUnchanged("active")
    version = int(
        await connection.scalar(
            update(households)
            .where(households.c.id == household_id)
            .values(status="active", status_reason=None, version=households.c.version + 1, updated_at=func.now())
            .returning(households.c.version)
        )
        or 0
    )
    fields = HouseholdFields.model_validate({name: row._mapping[name] for name in HouseholdFields.model_fields})
    # The same facts as `registry.household.updated`: the eligibility stage assesses it like an update.
    data = {"version": version, **fields.eligibility_facts()}
    await add_events(connection, [_event(topics.HOUSEHOLD_REACTIVATED, household_id, data, source, traceparent)])
    before = {"id": str(household_id), "status": row.status, "version": row.version}
    return StatusChange(
        household_id, version, before, {"id": str(household_id), "status": "active", "version": version}
    )
