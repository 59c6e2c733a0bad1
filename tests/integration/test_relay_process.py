"""The outbox relay in a child process on the real stack: it publishes what is committed and reports
it to the worker, it is started again when it dies, and it stops with its worker however the worker goes.
And the relay on the worker's own loop, woken by NOTIFY, for deployments that keep it there."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.events.producer import saga_producer
from dsrs.outbox.relay import OutboxRelay, relay_woken_by_notify
from dsrs.outbox.relay_process import RelayProcess, spawn_child
from dsrs.settings import Settings
from dsrs.worker.relay import CHILD_MODULE
from tests.integration.numbered_events import commit_numbered_events, publish_nothing_pending, published_sequences
from tests.integration.saga import eventually

pytestmark = pytest.mark.integration

TOPIC = "outbox.test"
HOUSEHOLDS = 10
EVENTS_EACH = 3


@pytest.fixture
async def own_topics(settings: Settings, engine: AsyncEngine) -> Settings:
    """Settings whose topics are this test's alone, over an outbox with nothing pending from earlier tests."""
    await publish_nothing_pending(engine)
    return settings.model_copy(update={"topic_prefix": f"test-relay-{uuid.uuid4().hex[:8]}."})


async def _commit_events(engine: AsyncEngine) -> list[str]:
    return await commit_numbered_events(engine, TOPIC, HOUSEHOLDS, EVENTS_EACH)


async def _assert_published_in_order(settings: Settings, households: list[str]) -> None:
    sequences = await published_sequences(settings, settings.topic(TOPIC), len(households) * EVENTS_EACH)
    assert {household: sequences[household] for household in households} == {
        household: list(range(EVENTS_EACH)) for household in households
    }


async def test_the_child_publishes_what_is_committed_and_the_worker_counts_it(
    engine: AsyncEngine, own_topics: Settings
) -> None:
    reported: list[int] = []
    supervisor = RelayProcess(own_topics, CHILD_MODULE, on_published=reported.append)
    stopping = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stopping))
    try:
        households = await _commit_events(engine)
        await _assert_published_in_order(own_topics, households)
        await eventually(lambda: asyncio.sleep(0, sum(reported)), lambda total: total == HOUSEHOLDS * EVENTS_EACH)
    finally:
        stopping.set()
        await running
    assert supervisor.process is not None
    assert supervisor.process.returncode == 0, "stopped by SIGTERM, cleanly"
    assert supervisor.started == 1


async def test_a_child_that_dies_is_started_again(engine: AsyncEngine, own_topics: Settings) -> None:
    supervisor = RelayProcess(own_topics, CHILD_MODULE, on_published=lambda published: None, restart_seconds=0.1)
    stopping = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stopping))
    try:
        first = await eventually(lambda: asyncio.sleep(0, supervisor.process), lambda process: process is not None)
        assert first is not None
        first.kill()
        await eventually(lambda: asyncio.sleep(0, supervisor.started), lambda started: started == 2)
        households = await _commit_events(engine)
        await _assert_published_in_order(own_topics, households)
    finally:
        stopping.set()
        await running
    assert first.returncode == -9


async def test_a_child_that_cannot_start_is_tried_again(own_topics: Settings) -> None:
    # No broker listens on port 1: the child's producer cannot start, and the child exits with an error.
    unreachable = own_topics.model_copy(update={"kafka_url": "kafka://127.0.0.1:1"})
    supervisor = RelayProcess(unreachable, CHILD_MODULE, on_published=lambda published: None, restart_seconds=0.1)
    stopping = asyncio.Event()
    running = asyncio.create_task(supervisor.run(stopping))
    try:
        await eventually(lambda: asyncio.sleep(0, supervisor.started), lambda started: started >= 2)
        failed = await eventually(
            lambda: asyncio.sleep(0, supervisor.process),
            lambda process: process is not None and process.returncode is not None,
        )
    finally:
        stopping.set()
        await running
    assert failed is not None
    assert failed.returncode not in (None, 0)


async def test_the_child_stops_when_its_worker_is_gone(own_topics: Settings) -> None:
    child = await spawn_child(own_topics, CHILD_MODULE)
    assert child.stdin is not None
    # What the kernel does to the worker's end of the pipe when the worker dies, even by SIGKILL.
    child.stdin.close()
    assert await asyncio.wait_for(child.wait(), timeout=120) == 0


async def _listening(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
        return int(await connection.scalar(query) or 0)


async def test_on_the_worker_loop_the_relay_is_woken_by_notify(engine: AsyncEngine, own_topics: Settings) -> None:
    producer = saga_producer(own_topics)
    await producer.start()
    # Polling an hour apart, events committed once it has looked and found nothing go out only if NOTIFY wakes it.
    relay = OutboxRelay(engine, producer, idle_poll_seconds=3600, topic_prefix=own_topics.topic_prefix)
    stopping = asyncio.Event()
    listeners = await _listening(engine)
    running = asyncio.create_task(relay_woken_by_notify(relay, own_topics, stopping))
    try:
        await eventually(lambda: _listening(engine), lambda count: count > listeners)
        households = await _commit_events(engine)
        await _assert_published_in_order(own_topics, households)
    finally:
        stopping.set()
        relay.wake()
        await running
        await producer.stop()
