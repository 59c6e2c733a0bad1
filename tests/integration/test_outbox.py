"""The outbox relay on the real stack: every event published once, in order per household,
with two relays working at the same time."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.bundle import AnalyticsFanOut, decode_bundle
from dsrs.events.envelope import new_envelope
from dsrs.events.topics import ASSESSED_APPROVED as APPROVED
from dsrs.events.topics import HOUSEHOLD_REGISTERED as REGISTERED
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.outbox.relay import OutboxRelay
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.settings import Settings
from tests.integration.numbered_events import commit_numbered_events, publish_nothing_pending, published_sequences

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
    await publish_nothing_pending(engine)
    households = await commit_numbered_events(engine, topic, HOUSEHOLDS, EVENTS_EACH)

    relays = [OutboxRelay(engine, producer, events_per_batch=7, topic_prefix=prefix) for _ in range(2)]
    while True:
        published = await asyncio.gather(*(relay.publish_batch() for relay in relays))
        if sum(published) == 0:
            break
    assert sum(relay.published_total for relay in relays) == HOUSEHOLDS * EVENTS_EACH
    assert all(relay.published_total > 0 for relay in relays), "both relays took a share"
    lag = await relays[0].lag()
    assert lag.pending == 0

    sequences = await published_sequences(settings, prefix + topic, HOUSEHOLDS * EVENTS_EACH)
    assert set(sequences) == set(households)
    for household in households:
        assert sequences[household] == list(range(EVENTS_EACH)), household


async def test_events_added_together_take_their_ids_in_the_order_they_were_added(engine: AsyncEngine) -> None:
    # The relay publishes a household's events in id order: several in one batch must keep theirs.
    household = str(uuid.uuid4())
    events = [OutgoingEvent("outbox.test", new_envelope("test", household, {"n": n}, "test"), None) for n in range(50)]
    async with engine.begin() as connection:
        await add_events(connection, events)
        stored = await connection.execute(
            text("SELECT event_id::text, payload FROM event_outbox WHERE aggregate_id = :household ORDER BY id"),
            {"household": household},
        )
        rows = stored.all()
        # Gone, as if published, so that no later test's relay sends them to topics of its own.
        await connection.execute(
            text("DELETE FROM event_outbox WHERE aggregate_id = :household"), {"household": household}
        )
    assert [row.event_id for row in rows] == [event.envelope.event_id for event in events]
    assert [row.payload["data"]["n"] for row in rows] == list(range(50))


async def test_a_relay_pages_past_the_aggregates_another_relay_holds(
    engine: AsyncEngine, settings: Settings, producer: AIOKafkaProducer
) -> None:
    prefix = f"test-outbox-{uuid.uuid4().hex[:8]}."
    await publish_nothing_pending(engine)
    households = [str(uuid.uuid4()) for _ in range(6)]
    for sequence in range(2):
        async with engine.begin() as connection:
            await add_events(
                connection,
                [
                    OutgoingEvent("outbox.test", new_envelope("test", h, {"sequence": sequence}, "test"), None)
                    for h in households
                ],
            )
    holder = OutboxRelay(engine, producer, events_per_batch=4, topic_prefix=prefix)
    other = OutboxRelay(engine, producer, events_per_batch=4, topic_prefix=prefix)
    async with engine.begin() as held:
        # The first page holds the heads of four households; the holder locks them and keeps them.
        claimed = await holder.claim(held)
        held_households = {row.aggregate_id for row in claimed}
        assert held_households == set(households[:4])
        published = await other.publish_batch()
        async with engine.connect() as connection:
            pending = await connection.execute(text("SELECT aggregate_id, count(*) FROM event_outbox GROUP BY 1"))
            still_pending = {household: count for household, count in pending}
    # The other relay paged on to the two free households and published their first events: the
    # oldest of each that its page held. The held households' events all wait for their holder.
    assert published == 2
    assert still_pending == {**{household: 2 for household in households[:4]}, **{h: 1 for h in households[4:]}}


async def test_the_relay_bundles_counted_events_per_program_and_region_onto_the_analytics_topic(
    engine: AsyncEngine, settings: Settings, producer: AIOKafkaProducer
) -> None:
    prefix = f"test-outbox-{uuid.uuid4().hex[:8]}."
    analytics = prefix + "analytics"
    await publish_nothing_pending(engine)
    placed = [("cash", "R01"), ("cash", "R01"), ("cash", "R02"), ("child", "R01")]
    counted = [
        new_envelope(APPROVED, str(uuid.uuid4()), {"program_id": program, "region": region}, "test")
        for program, region in placed
    ]
    not_counted = new_envelope(REGISTERED, str(uuid.uuid4()), {"region": "R01"}, "test")
    async with engine.begin() as connection:
        await add_events(connection, [OutgoingEvent(e.type, e, new_traceparent()) for e in [*counted, not_counted]])

    relay = OutboxRelay(engine, producer, topic_prefix=prefix, fan_out=AnalyticsFanOut(analytics))
    while await relay.publish_batch():
        pass

    consumer = AIOKafkaConsumer(analytics, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    bundled: dict[str, list[str]] = defaultdict(list)
    try:
        while sum(len(ids) for ids in bundled.values()) < len(counted):
            batch = await consumer.getmany(timeout_ms=10_000)
            assert batch, f"only {dict(bundled)} arrived"
            for records in batch.values():
                for record in records:
                    assert record.key is not None
                    bundled[record.key.decode()] += [fact.event_id for fact in decode_bundle(record.value)]
                    assert dict(record.headers)["traceparent"].startswith(b"00-")
    finally:
        await consumer.stop()
    ids = {e.event_id: (e.data["program_id"], e.data["region"]) for e in counted}
    assert dict(bundled) == {
        f"{program}|{region}": [i for i, place in ids.items() if place == (program, region)]
        for program, region in set(placed)
    }


class _RefusingProducer:
    """Takes the relay's batches, then reports that the broker refused them."""

    def __init__(self, real: AIOKafkaProducer) -> None:
        self.real = real

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> object:
        return self.real.create_batch()

    async def send_batch(self, batch: object, topic: str, partition: int) -> asyncio.Future[None]:
        refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        refused.set_exception(KafkaError("the broker refused the batch"))
        return refused


async def _outbox_ids(engine: AsyncEngine, household: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT event_id::text FROM event_outbox WHERE aggregate_id = :household ORDER BY id"),
            {"household": household},
        )
        return list(rows.scalars())


async def test_an_event_leaves_the_outbox_only_once_the_broker_acknowledged_it(
    engine: AsyncEngine, producer: AIOKafkaProducer
) -> None:
    prefix = f"test-outbox-{uuid.uuid4().hex[:8]}."
    await publish_nothing_pending(engine)
    household = str(uuid.uuid4())
    events = [OutgoingEvent("outbox.test", new_envelope("test", household, {"n": n}, "test"), None) for n in range(3)]
    async with engine.begin() as connection:
        await add_events(connection, events)
    ids = [event.envelope.event_id for event in events]

    refused = OutboxRelay(engine, cast(AIOKafkaProducer, _RefusingProducer(producer)), topic_prefix=prefix)
    with pytest.raises(KafkaError):
        await refused.publish_batch()
    assert await _outbox_ids(engine, household) == ids

    assert await OutboxRelay(engine, producer, topic_prefix=prefix).publish_batch() == len(ids)
    assert await _outbox_ids(engine, household) == []
