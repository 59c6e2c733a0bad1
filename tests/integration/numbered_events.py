"""Households' numbered test events: committed to the outbox interleaved, over many transactions, as real
traffic is, into an outbox with nothing else pending; and read back from a topic, per household, to check
that each kept its order."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.events.envelope import new_envelope
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.settings import Settings
from tests.integration.records import read_records


async def publish_nothing_pending(engine: AsyncEngine) -> None:
    """Drop whatever earlier tests left pending, as a relay does once it has published it: a relay under
    test would otherwise send it to this test's topics."""
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM event_outbox"))


async def commit_numbered_events(engine: AsyncEngine, topic: str, households: int, events_each: int) -> list[str]:
    """Event `sequence` 0, 1, ... of each new household, one transaction per sequence number; their ids."""
    ids = [str(uuid.uuid4()) for _ in range(households)]
    for sequence in range(events_each):
        async with engine.begin() as connection:
            await add_events(
                connection,
                [
                    OutgoingEvent(topic, new_envelope("test", h, {"sequence": sequence}, "test"), new_traceparent())
                    for h in ids
                ],
            )
    return ids


async def published_sequences(settings: Settings, topic: str, count: int) -> dict[str, list[int]]:
    """The sequence numbers of the first `count` records on `topic`, per household, in the order published."""
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in await read_records(settings, topic, count):
        assert record.key is not None
        assert dict(record.headers)["traceparent"].startswith(b"00-")
        sequences[record.key.decode()].append(json.loads(record.value)["data"]["sequence"])
    return sequences
