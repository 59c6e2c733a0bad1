"""The PostgreSQL limit of `dsrs bench saga`: the saga's own transactions, sent as fast as PostgreSQL takes them.

Two fresh databases of the deployment's schema, each with the shipped programs deployed and the due payment
cycles opened, as a worker does when it starts.

1. **Recording** (not timed), on the first: the worker's own stage handlers (intake with duplicate matching as
   the deployment has it, and eligibility and payment in its transaction when the deployment colocates them;
   eligibility and payment for what it did not apply; and analytics with its mirror left out: that writes the worker's
   tables and the rollups, not PostgreSQL) take the benchmark's intake messages in the agents' batch sizes. Each
   stage is fed what the deployment's outbox relay, its own code, read from the outbox and would have published:
   the saga's events and analytics' bundles, handed over in process instead of through Kafka. Every statement a
   handler's transaction sends is kept with its parameters as the driver received them.
2. **Replay** (timed), on the second, after VACUUM and CHECKPOINT: those transactions go to PostgreSQL again
   through asyncpg, one connection per stage and worker as the workers' agents have (`lanes_of`), each lane's
   in its order and each only once the transactions that wrote the events it consumed have committed. Beside
   them, on a connection of its own for each worker as each relay child process has, the relay claims pending
   events with its own statements (pages of EVENTS_PER_CLAIM read with their payloads, heads locked) and
   deletes them, until the outbox is empty.

So the figure is PostgreSQL's work for every statement of the saga, with the saga's payloads and batch sizes:
the claims of every consumer, the upserts with ON CONFLICT and RETURNING, matching's keys and candidates, the
assessments, payments, outbox rows, counters and windows, and the relay's reads and deletes; plus asyncpg's
encoding of the parameters and decoding of the results (the relay's claimed rows through SQLAlchemy, as the
relay reads them), all on this process's one event loop. Left out: the rules, matching's scoring, building rows
and events, SQLAlchemy for the stages, Faust and Kafka, and any wait for the relay before a stage sees an event.
The statistics are refreshed (ANALYZE, not timed) before each chunk, as autovacuum keeps the saga's.

Households go through in chunks of CHUNK_HOUSEHOLDS, each recorded and then replayed, so that memory holds one
chunk's statements; the clock runs only while a chunk is replayed, and each chunk is finished (outbox empty)
before the next.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any, cast

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.counter import AnalyticsCounter, Snapshot
from dsrs.db.engine import create_engine
from dsrs.events.incoming import Incoming
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.outbox.relay import DELETE_PUBLISHED, OutboxRelay
from dsrs.payment.opening import open_due_cycles
from dsrs.programs.deploy import deploy_files
from dsrs.settings import Settings
from dsrs.streams.processing import Decoded, Handler
from dsrs.tables.analytics import AnalyticsTables
from dsrs.worker.agents import AGENTS
from dsrs.worker.relay import deployment_relay
from dsrs.worker.runtime import Runtime
from dsrs_dev.synthetic import IntakeMessage

# Households recorded and replayed at a time: about 10 KB of statements each while held. The first chunk is
# small: until it is analysed, the planner takes the new tables for empty (matching's candidates then scan
# every household).
FIRST_CHUNK_HOUSEHOLDS = 1_000
CHUNK_HOUSEHOLDS = 10_000
# The agents a household of the benchmark passes through; settlements, statements and dead letters get nothing.
SAGA_STAGES = ("registry-intake", "eligibility", "payment", "analytics", "dci-notify")
ANALYTICS = "analytics"
# The relay's connection, beside one per stage.
RELAY_CONNECTIONS = 1
# Analytics' counter rows are keyed by program and region, which several workers split by partition; replayed
# in lanes, two batches' upserts of the same counters would wait on each other's locks: it keeps one lane.
SINGLE_LANE_STAGES = frozenset({ANALYTICS})
NEW_OUTBOX_ROWS = text("SELECT id, event_id FROM event_outbox WHERE id > :after ORDER BY id")


@dataclass(slots=True)
class Statement:
    sql: str
    # As the driver received them: a tuple, or a list of tuples for an executemany.
    parameters: Any
    many: bool


@dataclass(slots=True)
class Transaction:
    stage: str
    statements: list[Statement]
    # Indices of the transactions (of the same chunk) that wrote the events this one consumed.
    after: frozenset[int]


@dataclass
class PostgresLimit:
    households: int
    seconds: float
    households_per_second: float
    transactions: int
    statements: int
    connections: int
    # Running the handlers to record their statements: not part of the figure.
    recording_seconds: float


class NoMirror:
    """Analytics' mirror writes the worker's tables and the rollups, not PostgreSQL."""

    async def apply(self, snapshot: Snapshot) -> None:
        return None


class _Batch:
    """What the relay appends messages to instead of an aiokafka record batch; never full."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes, Sequence[tuple[str, bytes]]]] = []

    def append(self, *, key: bytes, value: bytes, timestamp: int | None, headers: Sequence[tuple[str, bytes]]) -> bool:
        self.records.append((key, value, headers))
        return True

    def close(self) -> None:
        return None


class LocalProducer:
    """The part of AIOKafkaProducer that the relay's record batches use, handing each message to `deliver`."""

    def __init__(self, partitions: int, deliver: Callable[[Incoming], None]) -> None:
        self.partitions = set(range(partitions))
        self.deliver = deliver
        self.offsets: dict[tuple[str, int], int] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return self.partitions

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, partition: int) -> asyncio.Future[None]:
        for key, value, headers in batch.records:
            offset = self.offsets.get((topic, partition), 0)
            self.offsets[(topic, partition)] = offset + 1
            self.deliver(Incoming(topic, partition, offset, key, value, dict(headers)))
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Recorder:
    """Keeps every statement an engine sends while `statements` is a list."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[Statement] | None = None
        event.listen(engine.sync_engine, "before_cursor_execute", self._executing)

    def _executing(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if self.statements is not None:
            self.statements.append(Statement(statement, parameters, executemany))


@dataclass
class Stage:
    name: str
    handler: Handler[Any]
    batch_size: int
    # Each message with the transactions that wrote the events it carries.
    queue: deque[tuple[Incoming, frozenset[int]]] = field(default_factory=deque)


def _event_ids(value: bytes | None) -> list[str]:
    """The events a message carries: one envelope, or analytics' bundle of them."""
    document = orjson.loads(value or b"null")
    documents = document if isinstance(document, list) else [document]
    return [str(uuid.UUID(str(d["event_id"]))) for d in documents]


async def prepare_database(settings: Settings, engine: AsyncEngine) -> Runtime:
    """The programs deployed and the due cycles opened as a starting worker does; a runtime whose handlers use
    `engine`. Its analytics tables are Faust's, unused here."""
    runtime = Runtime(settings, cast(AnalyticsTables, None))
    runtime.saga_engine = engine
    async with engine.begin() as connection:
        deployed_by = f"bench postgres limit ({settings.programs_dir})"
        await deploy_files(connection, runtime.shipped_programs, deployed_by, datetime.now(UTC), settings.source_name)
        await runtime.catalog.active(connection)
    if settings.payment_cycle_auto_open:
        programs = list(runtime.catalog.current.values())
        await open_due_cycles(engine, programs, date.today(), settings.payment_cycle_open_days, runtime.cycle_terms)
    return runtime


class InProcessSaga:
    """The saga's stages and relay on one database, without Kafka or Faust; each stage's statements recorded."""

    def __init__(self, settings: Settings, engine: AsyncEngine, runtime: Runtime) -> None:
        self.settings = settings
        self.engine = engine
        self.recorder = Recorder(engine)
        producer = LocalProducer(settings.topic_partitions, self._deliver)
        # The relay's own code reads and deletes the rows; its producer hands the messages to the stages.
        self.relay = deployment_relay(settings, engine, cast(AIOKafkaProducer, producer), on_published=lambda n: None)
        self.stages: list[Stage] = []
        # A topic can feed several stages (registered events: eligibility and DCI notify), as in Faust.
        self.route: dict[str, list[Stage]] = {}
        for agent in (agent for agent in AGENTS if agent.name in SAGA_STAGES):
            # The worker's own handlers; analytics' without its mirror.
            handler = AnalyticsCounter(engine, NoMirror()) if agent.name == ANALYTICS else agent.handler(runtime)
            stage = Stage(agent.name, handler, agent.batch_size)
            self.stages.append(stage)
            for name in agent.topics:
                self.route.setdefault(settings.topic(name), []).append(stage)
        self.transactions: list[Transaction] = []
        self.writer_of: dict[str, int] = {}
        self.last_outbox_id = 0

    def _deliver(self, message: Incoming) -> None:
        stages = self.route.get(message.topic, [])
        if stages:
            writers = frozenset(self.writer_of[e] for e in _event_ids(message.value) if e in self.writer_of)
            for stage in stages:
                stage.queue.append((message, writers))

    async def record(self, messages: Iterable[IntakeMessage]) -> list[Transaction]:
        """Every message through every stage; the stages' transactions in the order they ran."""
        topic = self.settings.topic(HOUSEHOLD_INTAKE)
        for offset, message in enumerate(messages):
            self._deliver(Incoming(topic, 0, offset, message.key, message.value, dict(message.headers)))
        while True:
            progressed = False
            for stage in self.stages:
                while len(stage.queue) >= stage.batch_size:
                    await self._handle(stage)
                    progressed = True
            while await self.relay.publish_batch():
                progressed = True
            if progressed:
                continue
            # No stage has a full batch: the first one holding anything takes what it has, as at a lull.
            waiting = next((stage for stage in self.stages if stage.queue), None)
            if waiting is None:
                break
            await self._handle(waiting)
        transactions, self.transactions, self.writer_of = self.transactions, [], {}
        return transactions

    async def _handle(self, stage: Stage) -> None:
        taken = [stage.queue.popleft() for _ in range(min(stage.batch_size, len(stage.queue)))]
        # As the agents do: what the writing transaction applied for this stage is skipped.
        consumer = stage.handler.consumer
        batch = [Decoded(m, stage.handler.decode(m)) for m, _ in taken if not m.applied_upstream(consumer)]
        if not batch:
            return
        statements: list[Statement] = []
        self.recorder.statements = statements
        try:
            await stage.handler.handle(batch)
        finally:
            self.recorder.statements = None
        index = len(self.transactions)
        self.transactions.append(Transaction(stage.name, statements, frozenset().union(*(w for _, w in taken))))
        # The events it wrote: whatever consumes them is replayed after it.
        async with self.engine.connect() as connection:
            for row in await connection.execute(NEW_OUTBOX_ROWS, {"after": self.last_outbox_id}):
                self.writer_of[str(row.event_id)] = index
                self.last_outbox_id = row.id


async def _run_statements(raw: Any, transaction: Transaction) -> None:
    async with raw.transaction():
        for statement in transaction.statements:
            if statement.many:
                await raw.executemany(statement.sql, statement.parameters)
            else:
                # fetch, as SQLAlchemy's asyncpg cursor does: what RETURNING gives comes back.
                await raw.fetch(statement.sql, *statement.parameters)


def lanes_of(transactions: Sequence[Transaction], workers: int) -> list[list[int]]:
    """The transactions' indices by connection: each stage's dealt in turn over one lane per worker, as each of
    several workers' agents takes the batches of its own partitions (SINGLE_LANE_STAGES keep one)."""
    lanes: dict[tuple[str, int], list[int]] = {}
    taken: dict[str, int] = {}
    for index, transaction in enumerate(transactions):
        count = taken.get(transaction.stage, 0)
        taken[transaction.stage] = count + 1
        lane = 0 if transaction.stage in SINGLE_LANE_STAGES else count % workers
        lanes.setdefault((transaction.stage, lane), []).append(index)
    return list(lanes.values())


async def replay(
    engine: AsyncEngine, relay: OutboxRelay, transactions: Sequence[Transaction], workers: int = 1
) -> float:
    """Seconds to send the transactions again, on one connection per stage and worker, with a relay for each
    worker beside them."""
    committed = [asyncio.Event() for _ in transactions]
    # Every commit wakes every relay, as the outbox's NOTIFY does; each relay clears only its own.
    wakes = [asyncio.Event() for _ in range(workers)]
    stages_done = asyncio.Event()

    def wake_relays() -> None:
        for wake in wakes:
            wake.set()

    async def stage(indices: list[int]) -> None:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            for index in indices:
                for before in transactions[index].after:
                    await committed[before].wait()
                await _run_statements(raw, transactions[index])
                committed[index].set()
                wake_relays()

    async def relaying(wrote: asyncio.Event) -> None:
        while True:
            wrote.clear()
            finished = stages_done.is_set()
            async with engine.begin() as connection:
                rows = await relay.claim(connection)
                if rows:
                    await connection.execute(DELETE_PUBLISHED, {"ids": [row.id for row in rows]})
            if rows:
                continue
            if finished:
                return
            await wrote.wait()

    started = time.perf_counter()
    relay_tasks = [asyncio.create_task(relaying(wake)) for wake in wakes]
    try:
        await asyncio.gather(*(stage(indices) for indices in lanes_of(transactions, workers)))
    finally:
        stages_done.set()
        wake_relays()
    await asyncio.gather(*relay_tasks)
    return time.perf_counter() - started


async def vacuum_and_checkpoint(engine: AsyncEngine) -> None:
    """Dead rows and dirty pages of the setup gone before the clock starts; VACUUM takes no transaction."""
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("VACUUM")
        await raw.execute("CHECKPOINT")


async def analyze(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("ANALYZE")


async def postgres_limit(
    record: Settings, replay_on: Settings, messages: Iterable[IntakeMessage], households: int, workers: int = 1
) -> PostgresLimit:
    """Households per second for the saga's own transactions (module docstring): recorded on `record`'s
    database and sent again on `replay_on`'s, both fresh, `households` intake messages in all, on the
    connections of `workers` workers."""
    stages = len(SAGA_STAGES)
    connections = (stages - len(SINGLE_LANE_STAGES)) * workers + len(SINGLE_LANE_STAGES) + RELAY_CONNECTIONS * workers
    recording_engine = create_engine(record, pool_size=1, pre_ping=False)
    replay_engine = create_engine(replay_on, pool_size=connections, pre_ping=False)
    seconds = recording = 0.0
    transactions = statements = 0
    try:
        saga = InProcessSaga(record, recording_engine, await prepare_database(record, recording_engine))
        await prepare_database(replay_on, replay_engine)
        relay = deployment_relay(replay_on, replay_engine, cast(AIOKafkaProducer, None), on_published=lambda n: None)
        # What the setup left in the outbox (programs activated) is gone before either starts.
        await _empty_outbox(saga.relay, replay_engine, relay)
        await vacuum_and_checkpoint(replay_engine)
        intake = iter(messages)
        size = FIRST_CHUNK_HOUSEHOLDS
        while chunk := list(islice(intake, size)):
            size = CHUNK_HOUSEHOLDS
            started = time.perf_counter()
            recorded = await saga.record(chunk)
            recording += time.perf_counter() - started
            # Statistics as autovacuum keeps them in the saga's database, so that both get the same plans.
            await analyze(replay_engine)
            seconds += await replay(replay_engine, relay, recorded, workers)
            await analyze(recording_engine)
            transactions += len(recorded)
            statements += sum(len(t.statements) for t in recorded)
    finally:
        await recording_engine.dispose()
        await replay_engine.dispose()
    return PostgresLimit(
        households,
        round(seconds, 2),
        round(households / seconds, 1) if seconds else 0.0,
        transactions,
        statements,
        connections,
        round(recording, 1),
    )


async def _empty_outbox(recording_relay: OutboxRelay, engine: AsyncEngine, relay: OutboxRelay) -> None:
    while await recording_relay.publish_batch():
        pass
    async with engine.begin() as connection:
        while rows := await relay.claim(connection):
            await connection.execute(DELETE_PUBLISHED, {"ids": [row.id for row in rows]})
