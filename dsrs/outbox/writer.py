"""Adds events to the outbox inside the caller's transaction, so an event exists exactly when its effect does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.bulk import arrays, insert_arrays
from dsrs.db.schema import event_outbox
from dsrs.events.applied import APPLIED_BY, applied_by_header
from dsrs.events.envelope import Envelope
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.monitoring.tracing import hop

OUTBOX_COLUMNS = ("event_id", "aggregate_id", "topic", "event_type", "message_key", "payload", "headers")
# One statement for the whole batch, as every stage writes its other rows. Rows take their ids in array
# order (PostgreSQL runs an INSERT's SELECT in one process, in the order unnest yields), and the relay
# publishes a household's events in id order: so in the order they were added here.
INSERT_EVENTS = insert_arrays(event_outbox, OUTBOX_COLUMNS)


@dataclass(slots=True)
class OutgoingEvent:
    topic: str
    envelope: Envelope
    # The trace this event continues (None: it starts one); the outbox write span is its child.
    traceparent: str | None
    # The consumers whose effects of it commit in the same transaction (dsrs.events.applied).
    applied_by: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        # Keyed by subject, so one household's events stay in order on one partition.
        return self.envelope.subject


async def add_events(connection: AsyncConnection, events: Sequence[OutgoingEvent]) -> None:
    if not events:
        return
    rows = []
    for event in events:
        # The outbox write is a hop of the household's trace: the relay and consumers continue from it.
        with hop(f"outbox.write {event.topic}", event.traceparent, household=event.envelope.subject) as traceparent:
            headers = {TRACEPARENT: traceparent}
            if event.applied_by:
                headers[APPLIED_BY] = applied_by_header(event.applied_by)
            rows.append(
                {
                    "event_id": event.envelope.event_id,
                    "aggregate_id": event.envelope.subject,
                    "topic": event.topic,
                    "event_type": event.envelope.type,
                    "message_key": event.key,
                    "payload": event.envelope.to_document(),
                    "headers": headers,
                }
            )
    await connection.execute(INSERT_EVENTS, arrays(event_outbox, rows, OUTBOX_COLUMNS))
