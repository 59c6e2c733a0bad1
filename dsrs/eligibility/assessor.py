"""Assesses registered and updated households, storing each assessment with its event, once per event."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Numeric
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.schema import DECISIONS, eligibility_assessments
from dsrs.eligibility.records import store_assessments
from dsrs.events import topics
from dsrs.events.envelope import Envelope, InvalidEvent, decode_envelope_of, new_envelope
from dsrs.events.ids import new_uuid
from dsrs.events.incoming import Incoming
from dsrs.monitoring.metrics import ELIGIBILITY_DECISIONS
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.programs.catalog import ProgramCatalog
from dsrs.rules import Assessment, Program, assess
from dsrs.streams.errors import PermanentError
from dsrs.streams.processing import Decoded, claimed, event_id_of

# A reactivated household carries the same facts as an update, at a new version.
HOUSEHOLD_EVENTS = (topics.HOUSEHOLD_REGISTERED, topics.HOUSEHOLD_UPDATED, topics.HOUSEHOLD_REACTIVATED)


@dataclass(slots=True)
class HouseholdChanged:
    event_id: str
    household_id: uuid.UUID
    version: int
    facts: dict[str, Any]
    traceparent: str | None


def _fits(value: float | Decimal, column: Column[Any]) -> bool:
    """Whether PostgreSQL's NUMERIC(p, s) column takes the value: fewer than p - s digits before the point."""
    numeric = column.type
    if not isinstance(numeric, Numeric) or numeric.precision is None or numeric.scale is None:
        raise TypeError(f"{column} is not NUMERIC(p, s)")
    limit = Decimal(10) ** (numeric.precision - numeric.scale)
    # Rounding to the scale moves a value by less than one: a value one below the limit fits as it is.
    number = float(value)
    if math.isfinite(number) and abs(number) < float(limit) - 1:
        return True
    exact = Decimal(str(value))
    # Compared before rounding too: rounding a huge value to the scale would overflow Decimal's context.
    return exact.is_finite() and abs(exact) < limit and abs(round(exact, numeric.scale)) < limit


def check_fits_columns(assessment: Assessment) -> None:
    """A score or benefit too large for its column is refused here, with a reason, not by PostgreSQL's INSERT."""
    columns = eligibility_assessments.c
    for name, value, column in (
        ("score", assessment.score, columns.score),
        ("benefit", assessment.benefit_amount, columns.benefit_amount),
    ):
        if value is not None and not _fits(value, column):
            raise PermanentError(f"{name} {value:g} does not fit {column.table.name}.{column.name}")


@dataclass(slots=True)
class Assessed:
    """The household version an assessment is of."""

    household_id: uuid.UUID
    version: int
    region: object
    traceparent: str | None


def assessment_row(
    household: Assessed,
    program: Program,
    assessment: Assessment,
    cause_id: str,
    reassessment_id: str | None = None,
) -> dict[str, Any]:
    """The assessment's row, for dsrs.eligibility.records.store_assessments."""
    return {
        "id": new_uuid(),
        "household_id": household.household_id,
        "household_version": household.version,
        "program_id": program.id,
        "policy_version": program.version,
        "program_sha256": program.content_sha256,
        "decision": assessment.decision,
        "score": assessment.score,
        "benefit_amount": assessment.benefit_amount,
        "rule_results": assessment.rule_results_json(),
        # Canonical text (dsrs.events.envelope.canonical_uuid), as PostgreSQL reads it: the event that caused
        # the assessment, or the re-assessment that made it.
        "source_event_id": cause_id,
        "reassessment_id": reassessment_id,
    }


def assessment_event(
    row: dict[str, Any], household: Assessed, program: Program, assessment: Assessment, source: str
) -> OutgoingEvent:
    """The event that tells the assessment stored as `row`."""
    data = {
        "assessment_id": row["id"],
        "household_id": str(household.household_id),
        "household_version": household.version,
        "program_id": program.id,
        "policy_version": program.version,
        "decision": assessment.decision,
        "score": assessment.score,
        "benefit_amount": None if assessment.benefit_amount is None else str(assessment.benefit_amount),
        "currency": program.currency,
        "region": household.region,
        "failed_rules": [r.rule_id for r in assessment.rule_results if not r.passed],
    }
    topic = decision_topic(assessment)
    envelope = new_envelope(topic, str(household.household_id), data, source)
    return OutgoingEvent(topic, envelope, household.traceparent)


def decision_topic(assessment: Assessment) -> str:
    return topics.ASSESSED_APPROVED if assessment.decision == "approved" else topics.ASSESSED_DENIED


class EligibilityHandler:
    consumer = "eligibility"

    def __init__(self, engine: AsyncEngine, catalog: ProgramCatalog, source: str) -> None:
        self.engine = engine
        self.catalog = catalog
        self.source = source
        for program in catalog.current.values():
            for decision in DECISIONS:
                ELIGIBILITY_DECISIONS.labels(program=program.id, decision=decision)

    def decode(self, message: Incoming) -> HouseholdChanged:
        return _changed(decode_envelope_of(message.value, *HOUSEHOLD_EVENTS), message.header(TRACEPARENT))

    def item_of(self, event: OutgoingEvent) -> HouseholdChanged | None:
        """The change an event written in the same transaction tells, if it is one this stage assesses."""
        if event.envelope.type not in HOUSEHOLD_EVENTS:
            return None
        return _changed(event.envelope, event.traceparent)

    async def handle(self, batch: Sequence[Decoded[HouseholdChanged]]) -> None:
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, changes):
            events = await self.apply(connection, changes)
            await add_events(connection, events)
        self.committed(events)

    async def apply(self, connection: AsyncConnection, changes: Sequence[HouseholdChanged]) -> list[OutgoingEvent]:
        """Assess the changes under the active programs in the caller's transaction; the events of the
        assessments stored now, to add to the outbox."""
        # Read in this transaction: once a version's activation is committed, no batch decides under an older one.
        programs = (await self.catalog.active(connection)).values()
        rows: list[dict[str, Any]] = []
        events: list[OutgoingEvent] = []
        facts = [
            {"household_id": change.household_id, "household_version": change.version, "facts": change.facts}
            for change in changes
        ]
        for change in changes:
            for program in programs:
                assessment = assess(program, change.facts)
                check_fits_columns(assessment)
                household = Assessed(
                    change.household_id, change.version, change.facts.get("region"), change.traceparent
                )
                row = assessment_row(household, program, assessment, cause_id=change.event_id)
                rows.append(row)
                events.append(assessment_event(row, household, program, assessment, self.source))
        # A re-assessment of the same household version under the same policy adds nothing.
        stored = await store_assessments(connection, rows, facts)
        return [event for row, event in zip(rows, events, strict=True) if row["id"] in stored]

    def committed(self, events: Sequence[OutgoingEvent]) -> None:
        """Count the decisions once their transaction committed: a rolled-back batch decided nothing."""
        decided = Counter((event.envelope.data["program_id"], event.envelope.data["decision"]) for event in events)
        for (program, decision), count in decided.items():
            ELIGIBILITY_DECISIONS.labels(program=program, decision=decision).inc(count)


def _changed(envelope: Envelope, traceparent: str | None) -> HouseholdChanged:
    data = dict(envelope.data)
    try:
        household_id = uuid.UUID(str(data.pop("household_id")))
        version = int(data.pop("version"))
    except (KeyError, ValueError, TypeError):
        raise InvalidEvent("data: household_id and version are required") from None
    return HouseholdChanged(envelope.event_id, household_id, version, data, traceparent)
