"""The outbox relay on the real stack: every event published once, in order per household,
with two relays working at the same time."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.events.envelope import new_envelope
from dsrs.events.tracing import new_traceparent
from dsrs.outbox.relay import OutboxRelay
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.settings import Settings

pytestmark = pytest.mark.integration

HOUSEHOLDS = 20
EVENTS_EACH = 10


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    yield producer
    await producer.stop()


async def test_two_relays_publish_each_event_once_in_household_order(
    engine: AsyncEngine, settings: Settings, producer: AIOKafkaProducer
) -> None:
    prefix = f"test-outbox-{uuid.uuid4().hex[:8]}."
    topic = "outbox.test"
    async with engine.begin() as connection:
        # Anything a previous run left pending would be published to that run's topics, not ours.
        await connection.execute(text("UPDATE event_outbox SET published_at = now() WHERE published_at IS NULL"))
    households = [str(uuid.uuid4()) for _ in range(HOUSEHOLDS)]
    # Interleaved across households and spread over many transactions, as real traffic is.
    for sequence in range(EVENTS_EACH):
        async with engine.begin() as connection:
            await add_events(
                connection,
                [
                    OutgoingEvent(topic, new_envelope("test", h, {"sequence": sequence}, "test"), new_traceparent())
                    for h in households
                ],
            )

    relays = [OutboxRelay(engine, producer, aggregates_per_batch=7, topic_prefix=prefix) for _ in range(2)]
    while True:
        published = await asyncio.gather(*(relay.publish_batch() for relay in relays))
        if sum(published) == 0:
            break
    assert sum(relay.published_total for relay in relays) == HOUSEHOLDS * EVENTS_EACH
    assert all(relay.published_total > 0 for relay in relays), "both relays took a share"
    lag = await relays[0].lag()
    assert lag.pending == 0

    consumer = AIOKafkaConsumer(
        prefix + topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    sequences: dict[str, list[int]] = defaultdict(list)
    try:
        received = 0
        while received < HOUSEHOLDS * EVENTS_EACH:
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {received} events arrived"
            for records in batch.values():
                for record in records:
                    received += 1
                    assert record.key is not None
                    sequences[record.key.decode()].append(json.loads(record.value)["data"]["sequence"])
                    assert dict(record.headers)["traceparent"].startswith(b"00-")
    finally:
        await consumer.stop()
    assert set(sequences) == set(households)
    for household in households:
        assert sequences[household] == list(range(EVENTS_EACH)), household
