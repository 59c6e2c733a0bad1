"""Colocated stages on the real database: an intake batch is registered, assessed and paid in one transaction,
its events marked so that the eligibility and payment agents skip them; a stage that fails for good is rolled
back to its savepoint and leaves its events, unmarked, to its own agent; a transient failure fails the batch."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import Any, cast

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.engine import create_engine
from dsrs.dlq.publisher import DeadLetterPublisher
from dsrs.events import topics
from dsrs.events.applied import APPLIED_BY
from dsrs.events.incoming import Incoming
from dsrs.outbox.writer import OutgoingEvent
from dsrs.settings import Settings
from dsrs.streams.errors import PermanentError
from dsrs.streams.processing import BatchProcessor, Decoded, Handler
from dsrs.waiting import Backoff
from dsrs.worker.colocation import ColocatedStages
from dsrs.worker.runtime import Runtime
from dsrs_dev.bench.environment import isolated_database, with_database
from dsrs_dev.bench.postgres_limit import prepare_database
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake

pytestmark = pytest.mark.integration

HOUSEHOLDS = 40
Apply = Callable[[AsyncConnection, Sequence[Any]], Coroutine[Any, Any, list[OutgoingEvent]]]


@pytest.fixture(scope="module")
def database(stack: Stack, settings: Settings) -> Iterator[Settings]:
    with isolated_database(stack, settings, "dsrs_test_colocation") as name:
        yield with_database(settings, name).model_copy(update={"colocated_stages": True})


@pytest.fixture
async def runtime(database: Settings) -> AsyncIterator[Runtime]:
    engine = create_engine(database, pool_size=2, pre_ping=False)
    try:
        yield await prepare_database(database, engine)
    finally:
        await engine.dispose()


def _colocated(runtime: Runtime) -> ColocatedStages:
    handler = runtime.intake()
    assert isinstance(handler, ColocatedStages)
    return handler


def _batch(handler: ColocatedStages, settings: Settings, seed: int) -> tuple[list[Decoded[Any]], set[str]]:
    messages = synthetic_intake(HOUSEHOLDS, settings.regions, seed=seed, update_share=0, invalid_share=0)
    incoming = [Incoming("intake", 0, i, m.key, m.value, dict(m.headers)) for i, m in enumerate(messages)]
    return [Decoded(m, handler.decode(m)) for m in incoming], {m.key.decode() for m in incoming if m.key}


async def _scalar(engine: AsyncEngine, sql: str, households: set[str]) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(sql), {"ids": sorted(households)})).scalar_one())


async def _outbox(engine: AsyncEngine, households: set[str]) -> list[Any]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT event_id::text, topic, event_type, message_key, payload, headers FROM event_outbox "
                "WHERE aggregate_id = ANY(CAST(:ids AS text[])) ORDER BY id"
            ),
            {"ids": sorted(households)},
        )
        return list(rows)


def _marks(rows: Sequence[Any], topic: str) -> set[str | None]:
    return {row.headers.get(APPLIED_BY) for row in rows if row.topic == topic}


async def _through_agent(handler: Handler[Any], rows: Sequence[Any]) -> BatchProcessor[Any]:
    """The rows as the relay would publish them, through `handler`'s agent processing."""
    messages = [
        Incoming(
            row.topic,
            0,
            i,
            row.message_key.encode(),
            orjson.dumps(row.payload),
            {name: str(value).encode() for name, value in row.headers.items()},
        )
        for i, row in enumerate(rows)
    ]
    # Nothing here is dead-lettered: a letter would fail the test on the missing publisher.
    processor = BatchProcessor(handler, cast(DeadLetterPublisher, None), Backoff(0.0, 0.0))
    await processor.process(messages)
    return processor


ASSESSMENTS = "SELECT count(*) FROM eligibility_assessments WHERE household_id::text = ANY(CAST(:ids AS text[]))"
PAYMENTS = "SELECT count(*) FROM payments WHERE household_id::text = ANY(CAST(:ids AS text[]))"
HOUSEHOLDS_STORED = "SELECT count(*) FROM households WHERE id::text = ANY(CAST(:ids AS text[]))"
DOWNSTREAM_CLAIMS = (
    "SELECT count(*) FROM processed_events WHERE consumer IN ('eligibility', 'payment') AND event_id IN "
    "(SELECT event_id FROM event_outbox WHERE aggregate_id = ANY(CAST(:ids AS text[])))"
)


async def test_an_intake_batch_is_registered_assessed_and_paid_in_one_transaction(
    runtime: Runtime, database: Settings
) -> None:
    handler, engine = _colocated(runtime), runtime.saga_engine
    batch, households = _batch(handler, database, seed=31)
    await handler.handle(batch)

    programs = len(runtime.catalog.current)
    assert await _scalar(engine, HOUSEHOLDS_STORED, households) == HOUSEHOLDS
    assert await _scalar(engine, ASSESSMENTS, households) == HOUSEHOLDS * programs
    rows = await _outbox(engine, households)
    approved = [row for row in rows if row.topic == topics.ASSESSED_APPROVED]
    scheduled = [row for row in rows if row.topic == topics.PAYMENT_SCHEDULED]
    assert approved
    assert scheduled
    assert await _scalar(engine, PAYMENTS, households) == len(scheduled)
    assert {row.payload["data"]["household_id"] for row in scheduled} <= {
        row.payload["data"]["household_id"] for row in approved
    }
    # Each event names the stages that applied it here; what payments wrote is for other consumers alone.
    assert _marks(rows, topics.HOUSEHOLD_REGISTERED) == {"eligibility"}
    assert _marks(rows, topics.ASSESSED_APPROVED) == _marks(rows, topics.ASSESSED_DENIED) == {"payment"}
    assert _marks(rows, topics.PAYMENT_SCHEDULED) == {None}
    # In order: a household's registration before its assessments, and those before its payments.
    order = {topics.HOUSEHOLD_REGISTERED: 0, topics.ASSESSED_APPROVED: 1, topics.ASSESSED_DENIED: 1}
    for household in households:
        stages = [order.get(row.topic, 2) for row in rows if row.message_key == household]
        assert stages == sorted(stages)

    # The agents of eligibility and payment then skip every one of them, and claim nothing.
    registered = [row for row in rows if row.topic == topics.HOUSEHOLD_REGISTERED]
    decided = [row for row in rows if row.topic in (topics.ASSESSED_APPROVED, topics.ASSESSED_DENIED)]
    eligibility = await _through_agent(runtime.eligibility(), registered)
    payment = await _through_agent(runtime.payment(), decided)
    assert (eligibility.applied_upstream, eligibility.processed) == (HOUSEHOLDS, 0)
    assert (payment.applied_upstream, payment.processed) == (len(decided), 0)
    assert await _scalar(engine, ASSESSMENTS, households) == HOUSEHOLDS * programs
    assert await _scalar(engine, DOWNSTREAM_CLAIMS, households) == 0


def _failing_after(apply: Apply, error: Exception) -> Apply:
    """The stage's own work, done, then a failure: what it wrote must be rolled back with it."""

    async def failing(connection: AsyncConnection, items: Sequence[Any]) -> list[OutgoingEvent]:
        await apply(connection, items)
        raise error

    return failing


def _with_failing_stage(
    runtime: Runtime, database: Settings, monkeypatch: pytest.MonkeyPatch, stage: int, error: Exception, seed: int
) -> tuple[ColocatedStages, list[Decoded[Any]], set[str]]:
    """The colocated handler with its following `stage` failing after its work, and an intake batch."""
    handler = _colocated(runtime)
    failing = handler.following[stage]
    monkeypatch.setattr(failing, "apply", _failing_after(failing.apply, error))
    batch, households = _batch(handler, database, seed)
    return handler, batch, households


async def test_a_stage_failing_for_good_leaves_its_events_to_its_agent(
    runtime: Runtime, database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = runtime.saga_engine
    handler, batch, households = _with_failing_stage(
        runtime, database, monkeypatch, 0, PermanentError("score does not fit"), 32
    )
    await handler.handle(batch)

    # The households are registered; the assessments eligibility wrote went with its savepoint, and so nothing
    # was paid either.
    assert await _scalar(engine, HOUSEHOLDS_STORED, households) == HOUSEHOLDS
    assert await _scalar(engine, ASSESSMENTS, households) == 0
    assert await _scalar(engine, PAYMENTS, households) == 0
    rows = await _outbox(engine, households)
    assert {row.topic for row in rows} == {topics.HOUSEHOLD_REGISTERED}
    assert _marks(rows, topics.HOUSEHOLD_REGISTERED) == {None}

    # Eligibility's agent assesses them as ever.
    processor = await _through_agent(runtime.eligibility(), rows)
    assert (processor.applied_upstream, processor.processed, processor.failed) == (0, HOUSEHOLDS, 0)
    assert await _scalar(engine, ASSESSMENTS, households) == HOUSEHOLDS * len(runtime.catalog.current)


async def test_payments_failing_keep_the_assessments_and_leave_the_decisions_to_the_payment_agent(
    runtime: Runtime, database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = runtime.saga_engine
    handler, batch, households = _with_failing_stage(
        runtime, database, monkeypatch, 1, PermanentError("program 'x' is not deployed"), 33
    )
    await handler.handle(batch)

    assert await _scalar(engine, ASSESSMENTS, households) == HOUSEHOLDS * len(runtime.catalog.current)
    assert await _scalar(engine, PAYMENTS, households) == 0
    rows = await _outbox(engine, households)
    assert _marks(rows, topics.HOUSEHOLD_REGISTERED) == {"eligibility"}
    assert _marks(rows, topics.ASSESSED_APPROVED) == _marks(rows, topics.ASSESSED_DENIED) == {None}

    decided = [row for row in rows if row.topic in (topics.ASSESSED_APPROVED, topics.ASSESSED_DENIED)]
    processor = await _through_agent(runtime.payment(), decided)
    assert (processor.processed, processor.failed) == (len(decided), 0)
    assert await _scalar(engine, PAYMENTS, households) > 0


async def test_a_transient_failure_downstream_fails_the_whole_batch(
    runtime: Runtime, database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, batch, households = _with_failing_stage(
        runtime, database, monkeypatch, 0, ConnectionResetError("database went away"), seed=34
    )
    engine = runtime.saga_engine
    with pytest.raises(ConnectionResetError):
        await handler.handle(batch)

    # Nothing committed, not even the intake's claims: the batch is retried whole.
    assert await _scalar(engine, HOUSEHOLDS_STORED, households) == 0
    intake_ids = [str(uuid.UUID(str(d.item.event_id))) for d in batch]
    async with engine.connect() as connection:
        claims = await connection.execute(
            text("SELECT count(*) FROM processed_events WHERE event_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": intake_ids},
        )
        assert claims.scalar_one() == 0
