"""The intake topic: partner systems submit households; each valid one is registered or updated once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.events.envelope import InvalidEvent
from dsrs.events.incoming import Incoming
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.registry.duplicates import DuplicateMatching, Written
from dsrs.registry.intake_schema import parse_intake
from dsrs.registry.store import Submission, upsert_households
from dsrs.streams.processing import Decoded, claimed, event_id_of


class KeyNotSubject(InvalidEvent):
    """The message's key is not its subject: its household's messages could be applied out of order."""


@dataclass(slots=True)
class IntakeItem:
    event_id: str
    submission: Submission


class IntakeHandler:
    consumer = "registry-intake"

    def __init__(self, engine: AsyncEngine, regions: Sequence[str], source: str, matching: DuplicateMatching) -> None:
        self.engine = engine
        self.regions = frozenset(regions)
        self.source = source
        self.matching = matching

    def decode(self, message: Incoming) -> IntakeItem:
        if message.value is None:
            raise InvalidEvent("message has no value")
        intake = parse_intake(message.value, self.regions)
        # The key picks the partition: keyed otherwise, an update could overtake the registration it updates.
        if message.key != intake.subject.encode():
            raise KeyNotSubject("key: must be the subject, the household id, as the subject spells it")
        submission = Submission(uuid.UUID(intake.subject), intake.data, message.header(TRACEPARENT))
        return IntakeItem(intake.event_id, submission)

    async def handle(self, batch: Sequence[Decoded[IntakeItem]]) -> None:
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, fresh):
            await add_events(connection, await self.apply(connection, fresh))

    async def apply(self, connection: AsyncConnection, items: Sequence[IntakeItem]) -> list[OutgoingEvent]:
        """Record the households and check them for duplicates in the caller's transaction; the events to add."""
        submissions = [item.submission for item in items]
        recorded, events = await upsert_households(connection, submissions, self.source)
        traces = {submission.household_id: submission.traceparent for submission in submissions}
        written = [Written(r, s.fields) for r, s in zip(recorded, submissions, strict=True)]
        return events + await self.matching.check(connection, written, self.source, traces)
