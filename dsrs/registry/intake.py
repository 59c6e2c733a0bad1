"""The intake topic: partner systems submit households; each valid one is registered or updated once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.events import topics
from dsrs.events.envelope import InvalidEvent, decode_envelope_of
from dsrs.events.incoming import Incoming
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.registry.duplicates import DuplicateMatching, Written
from dsrs.registry.household import parse_household
from dsrs.registry.store import Submission, upsert_households
from dsrs.streams.processing import Decoded, claimed, event_id_of

INTAKE_EVENT_TYPE = topics.HOUSEHOLD_INTAKE


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
        envelope = decode_envelope_of(message.value, INTAKE_EVENT_TYPE)
        try:
            household_id = uuid.UUID(envelope.subject)
        except ValueError:
            raise InvalidEvent("envelope.subject: must be the household's UUID") from None
        fields = parse_household(envelope.data, self.regions)
        return IntakeItem(envelope.event_id, Submission(household_id, fields, message.header(TRACEPARENT)))

    async def handle(self, batch: Sequence[Decoded[IntakeItem]]) -> None:
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, fresh):
            submissions = [item.submission for item in fresh]
            recorded = await upsert_households(connection, submissions, self.source)
            traces = {submission.household_id: submission.traceparent for submission in submissions}
            written = [Written(r, s.fields) for r, s in zip(recorded, submissions, strict=True)]
            await self.matching.check(connection, written, self.source, traces)
