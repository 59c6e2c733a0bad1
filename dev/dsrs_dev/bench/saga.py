"""`dsrs bench saga`: the saga's throughput and latency, beside the Kafka and PostgreSQL limits of
the same machine, measured in the same run.

1. saga: N households published as fast as the broker takes them; households per second from the
   first intake message to the last `payment.scheduled`, and end-to-end latency (intake time to the
   household's last `payment.scheduled`) at full speed and at a fixed offered load of half of that;
2. the Kafka limit: the same messages produced and consumed back with aiokafka;
3. the PostgreSQL limit: the same rows per household written with batched transactions, as arrays.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from dsrs.db.bulk import arrays, insert_arrays
from dsrs.db.schema import metadata
from dsrs.events import topics
from dsrs.kafka.lag import consumer_lag, topic_depths
from dsrs.settings import Settings
from dsrs.worker.agents import CONSUMED_TOPICS
from dsrs_dev.bench.memory import MemoryProfile, MemorySample
from dsrs_dev.partner import publish_intake
from dsrs_dev.progress import advancer
from dsrs_dev.saga_status import saga_status
from dsrs_dev.synthetic import IntakeMessage, synthetic_intake

POSTGRES_BATCH = 500


@dataclass
class SagaRun:
    households: int
    offered_per_second: float | None
    seconds: float
    households_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    # Every message the run added to the deployment's topics (intake, saga events, re-keyed analytics
    # bundles, table changelogs), per household.
    kafka_messages_per_household: float


@dataclass
class Results:
    machine: dict[str, Any]
    households: int
    workers: int
    full_speed: SagaRun
    half_load: SagaRun
    kafka_messages_per_second: float
    postgres_households_per_second: float
    memory: MemoryProfile | None
    # A do-nothing Faust agent's rate over the same messages, and the messages a household costs the
    # worker's agents: together, the most this worker could do if its stages did no work at all.
    faust_messages_per_second: float
    faust_cpu_microseconds_per_message: float
    agent_messages_per_household: float
    # The worker's resident memory against the events it had processed, every couple of seconds.
    memory_samples: list[MemorySample] = field(default_factory=list)
    # Households through the saga before the full-speed run, not measured: connections, the broker's JIT.
    warm_up_households: int = 0

    @property
    def faust_households_per_second(self) -> float:
        return self.faust_messages_per_second / self.agent_messages_per_household

    @property
    def kafka_households_per_second(self) -> float:
        """The Kafka limit per household: its message rate over the messages a household costs."""
        return self.kafka_messages_per_second / self.full_speed.kafka_messages_per_household

    @property
    def limit_per_second(self) -> float:
        return min(self.kafka_households_per_second, self.postgres_households_per_second)

    @property
    def ratio(self) -> float:
        return self.full_speed.households_per_second / self.limit_per_second


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class IntakeClock:
    """Synthetic intake messages, remembering when each household was submitted."""

    def __init__(self, count: int, regions: tuple[str, ...], seed: int) -> None:
        self.count = count
        self.regions = regions
        self.seed = seed
        self.submitted: dict[str, datetime] = {}

    def __iter__(self) -> Iterator[IntakeMessage]:
        for message in synthetic_intake(self.count, self.regions, seed=self.seed, update_share=0, invalid_share=0):
            assert message.time is not None, "every benchmark message is a valid event"
            self.submitted[message.household_id] = message.time
            yield message


async def wait_settled(
    engine: AsyncEngine, settings: Settings, households_in_intake: int, households: int, programs: int
) -> None:
    """Wait until the saga has done everything; meanwhile poll only what costs the stack next to nothing.

    The full status query joins whole tables: polled, it would take PostgreSQL's CPU from the saga being
    measured, so it runs only once nothing is pending."""
    consumed = [settings.topic(t) for t in CONSUMED_TOPICS]
    intake = settings.topic(topics.HOUSEHOLD_INTAKE)
    with tqdm(total=households_in_intake, desc="taken in", unit="household", leave=False) as progress:
        while True:
            lag = await consumer_lag(settings.bootstrap_servers, settings.app_id, consumed)
            behind = sum(lag.values())
            # Every intake message is on the broker by now: what is not behind has been taken in.
            progress.n = households_in_intake - sum(n for tp, n in lag.items() if tp.topic == intake)
            progress.refresh()
            if behind == 0 and (await saga_status(engine)).settled(households, programs):
                return
            await asyncio.sleep(1.0)


async def payment_times(settings: Settings) -> dict[str, datetime]:
    """When each household's last `payment.scheduled` was published (its Kafka timestamp)."""
    consumer = AIOKafkaConsumer(
        settings.topic(topics.PAYMENT_SCHEDULED),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    times: dict[str, datetime] = {}
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=3000, max_records=10_000)
            if not batch:
                return times
            for records in batch.values():
                for record in records:
                    household = json.loads(record.value)["data"]["household_id"]
                    published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                    times[household] = max(times.get(household, published), published)
    finally:
        await consumer.stop()


async def deployment_messages(settings: Settings) -> int:
    """Messages held in the deployment's topics: the saga's, their dead letters and the tables' changelogs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    ours = [n for n in names if n.startswith(settings.topic_prefix) or n.startswith(f"{settings.app_id}-")]
    return sum((await topic_depths(settings.bootstrap_servers, ours)).values())


async def run_saga(
    settings: Settings, engine: AsyncEngine, households: int, programs: int, seed: int, per_second: float | None
) -> SagaRun:
    already = (await payment_times(settings)).keys()
    messages_before = await deployment_messages(settings)
    before = (await saga_status(engine)).households
    intake = settings.topic(topics.HOUSEHOLD_INTAKE)
    already_in = (await topic_depths(settings.bootstrap_servers, [intake])).get(intake, 0)
    clock = IntakeClock(households, settings.regions, seed)
    label = "published" if per_second is None else f"published at {per_second:.0f}/s"
    with tqdm(total=households, desc=label, unit="household") as progress:
        await publish_intake(
            settings,
            clock,
            advancer(progress),
            topic=settings.topic(topics.HOUSEHOLD_INTAKE),
            per_second=per_second,
        )
    await wait_settled(engine, settings, already_in + households, before + households, programs)
    messages = await deployment_messages(settings) - messages_before
    paid = {h: t for h, t in (await payment_times(settings)).items() if h not in already and h in clock.submitted}
    first = min(clock.submitted.values())
    last = max(paid.values()) if paid else max(clock.submitted.values())
    seconds = max((last - first).total_seconds(), 1e-3)
    latencies = [(paid[h] - clock.submitted[h]).total_seconds() * 1000 for h in paid]
    return SagaRun(
        households=households,
        offered_per_second=per_second,
        seconds=round(seconds, 2),
        households_per_second=round(households / seconds, 1),
        latency_p50_ms=round(percentile(latencies, 0.50), 1),
        latency_p95_ms=round(percentile(latencies, 0.95), 1),
        latency_p99_ms=round(percentile(latencies, 0.99), 1),
        kafka_messages_per_household=round(messages / households, 2),
    )


async def kafka_limit(settings: Settings, topic: str, households: int, seed: int) -> float:
    """Messages per second for producing the same intake messages and consuming them back."""
    messages = list(synthetic_intake(households, settings.regions, seed=seed, update_share=0, invalid_share=0))
    started = time.perf_counter()
    await publish_intake(settings, messages, topic=topic)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    received = 0
    try:
        while received < households:
            batch = await consumer.getmany(timeout_ms=5000, max_records=10_000)
            if not batch:
                break
            received += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
    return round(received / (time.perf_counter() - started), 1)


def _rows(household_id: uuid.UUID, programs: int) -> dict[str, list[dict[str, Any]]]:
    """One household's rows as the saga writes them: registry, outbox, processed events, assessments, payments."""
    assessment_ids = [uuid.uuid4() for _ in range(programs)]
    event = {"aggregate_id": str(household_id), "message_key": str(household_id), "payload": {"x": 1}}
    outbox = [
        {**event, "event_id": uuid.uuid4(), "topic": topic, "event_type": topic}
        for topic in [
            "registry.household.registered",
            *["eligibility.assessed.approved"] * programs,
            "payment.scheduled",
        ]
    ]
    return {
        "households": [
            {
                "id": household_id,
                "head_of_household_name": "Bench",
                "region": "R01",
                "household_size": 4,
                "monthly_income": Decimal("100.00"),
            }
        ],
        "event_outbox": outbox,
        "processed_events": [
            {"consumer": consumer, "event_id": uuid.uuid4()}
            for consumer in ("registry-intake", "eligibility", "payment")
        ],
        "eligibility_assessments": [
            {
                "id": assessment_id,
                "household_id": household_id,
                "household_version": 1,
                "program_id": f"p{number}",
                "policy_version": "1",
                "decision": "approved",
                "rule_results": [],
                "source_event_id": uuid.uuid4(),
            }
            for number, assessment_id in enumerate(assessment_ids)
        ],
        "payments": [
            {
                "id": uuid.uuid4(),
                "household_id": household_id,
                "assessment_id": assessment_ids[0],
                "program_id": "p0",
                "cycle": "2026-12",
                "amount": Decimal("50.00"),
                "currency": "USD",
                "due_date": datetime(2026, 12, 10, tzinfo=UTC),
                "settle_by": datetime(2026, 12, 15, tzinfo=UTC),
                "idempotency_key": f"bench:{uuid.uuid4()}",
            }
        ],
    }


async def postgres_limit(engine: AsyncEngine, households: int, programs: int) -> float:
    """Households per second for writing their rows with asyncpg, in transactions of POSTGRES_BATCH households.

    asyncpg directly, one statement per table and transaction with every column as an array (as the
    saga writes them): the database's limit, not an ORM's."""
    tables = ("households", "event_outbox", "processed_events", "eligibility_assessments", "payments")
    batches = []
    for offset in range(0, households, POSTGRES_BATCH):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for _ in range(min(POSTGRES_BATCH, households - offset)):
            for name, rows in _rows(uuid.uuid4(), programs).items():
                batch[name].extend(rows)
        batches.append({name: arrays(metadata.tables[name], rows, list(rows[0])) for name, rows in batch.items()})
    # The saga's own statements (dsrs/db/bulk.py), as SQLAlchemy renders them for asyncpg.
    compiled = {
        name: insert_arrays(metadata.tables[name], list(batches[0][name])).compile(dialect=engine.dialect)
        for name in tables
    }
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        # Rows are built before the clock starts: the limit is the database's, not Python's.
        started = time.perf_counter()
        for columns_of in batches:
            async with raw.transaction():
                for name in tables:
                    statement = compiled[name]
                    parameters = statement.positiontup or []
                    await raw.execute(str(statement), *(columns_of[name][column] for column in parameters))
        seconds = time.perf_counter() - started
    return round(households / seconds, 1)


def results_table(results: Results) -> str:
    full, half = results.full_speed, results.half_load
    rows = [
        ("warm-up (not measured)", f"{results.warm_up_households:,} households", ""),
        (
            "saga, full speed",
            f"{full.households_per_second:,.0f} households/s",
            f"p50 {full.latency_p50_ms:,.0f} / p95 {full.latency_p95_ms:,.0f} / p99 {full.latency_p99_ms:,.0f} ms",
        ),
        (
            f"saga, offered {half.offered_per_second or 0:,.0f}/s",
            f"{half.households_per_second:,.0f} households/s",
            f"p50 {half.latency_p50_ms:,.0f} / p95 {half.latency_p95_ms:,.0f} / p99 {half.latency_p99_ms:,.0f} ms",
        ),
        (
            "Kafka limit (produce + consume)",
            f"{results.kafka_messages_per_second:,.0f} messages/s",
            f"{results.full_speed.kafka_messages_per_household:.1f} messages a household: "
            f"{results.kafka_households_per_second:,.0f} households/s",
        ),
        ("PostgreSQL limit (batched rows)", f"{results.postgres_households_per_second:,.0f} households/s", ""),
        (
            "Faust dispatch (no-op agent)",
            f"{results.faust_messages_per_second:,.0f} messages/s",
            f"{results.faust_cpu_microseconds_per_message:.0f} µs CPU a message; "
            f"{results.agent_messages_per_household:.1f} agent messages a household: "
            f"{results.faust_households_per_second:,.0f} households/s",
        ),
        ("saga / lower limit", f"{results.ratio:.2f}", ""),
    ]
    memory = results.memory
    if memory is not None:
        rows.append(
            (
                "worker + relay memory (resident)",
                f"{memory.warm_rss_mib:,.0f} -> {memory.last_rss_mib:,.0f} MiB",
                f"from {memory.warm_events:,} to {memory.last_events:,} events; peak {memory.peak_rss_mib:,.0f} MiB",
            )
        )
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {rate:>24}  {latency}" for name, rate, latency in rows)


def write_results(results: Results, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"saga-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    document = {
        **asdict(results),
        "kafka_households_per_second": round(results.kafka_households_per_second, 1),
        "faust_households_per_second": round(results.faust_households_per_second, 1),
        "limit_per_second": round(results.limit_per_second, 1),
        "ratio": round(results.ratio, 3),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def faust_dispatch_limit(settings: Settings, topic: str, messages: int, folder: Path) -> dict[str, Any]:
    """Messages per second, CPU per message and the batch sizes of a do-nothing Faust agent reading `topic`."""
    result = folder / "dispatch.json"
    env = {
        **os.environ,
        "DSRS_DISPATCH_BROKER": settings.bootstrap_servers,
        "DSRS_DISPATCH_TOPIC": topic,
        "DSRS_DISPATCH_COUNT": str(messages),
        "DSRS_DISPATCH_RESULT": str(result),
        "DSRS_DISPATCH_DATADIR": str(folder / "dispatch-data"),
    }
    # On the worker's event loop (faust_app.py), so that the figure is the cost the worker pays.
    faust = [sys.executable, "-m", "faust", "--loop", "uvloop", "-A", "dsrs_dev.bench.dispatch"]
    command = [*faust, "worker", "-l", "warn", "--without-web"]
    with (folder / "dispatch.log").open("wb") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False)
    if not result.exists():
        raise RuntimeError(f"the dispatch benchmark wrote no result; see {folder / 'dispatch.log'}")
    figures: dict[str, Any] = json.loads(result.read_text())
    return figures
