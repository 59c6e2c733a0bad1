"""A worker of its own for saga tests: its own database, topics, consumer group, tables and port."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.rollups import TOTALS
from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.db import migrations
from dsrs.db.engine import create_engine
from dsrs.events.topics import DEAD_LETTER_TOPICS
from dsrs.kafka.lag import consumer_lag
from dsrs.payment.queries import payments_by_status
from dsrs.settings import Settings
from dsrs.worker.agents import CONSUMED_TOPICS
from dsrs_dev.bench.environment import delete_topics_of, isolated_settings
from dsrs_dev.saga_status import SagaStatus, saga_status
from dsrs_dev.stack.manager import Stack
from dsrs_dev.worker_process import WorkerProcess, worker_env

T = TypeVar("T")


@dataclass
class SagaWorker:
    settings: Settings
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.process = WorkerProcess(self.settings, self.log_path, env=self.env)

    @property
    def env(self) -> dict[str, str]:
        return worker_env(self.settings, self.extra_env)

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def start(self) -> None:
        self.process = WorkerProcess(self.settings, self.log_path, env=self.env)
        self.process.start()
        self.process.wait_ready()

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def client(self, *roles: Role) -> httpx.AsyncClient:
        """An API client holding a token with these roles."""
        token = issue_token(self.settings, list(roles), ttl_seconds=3600, subject=f"test-{roles[0].value}")
        return httpx.AsyncClient(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"})

    def spans(self) -> list[dict[str, Any]]:
        path = self.extra_env.get("DSRS_TRACING_FILE")
        if path is None or not Path(path).exists():
            return []
        return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]

    @property
    def topics(self) -> list[str]:
        return [self.settings.topic(name) for name in CONSUMED_TOPICS]

    @property
    def dead_letter_topics(self) -> list[str]:
        return [self.settings.topic(name) for name in DEAD_LETTER_TOPICS]

    async def lag(self) -> int:
        lags = await consumer_lag(self.settings.bootstrap_servers, self.settings.app_id, self.topics)
        return sum(lags.values())


async def topic_records(settings: Settings, topic: str) -> list[Any]:
    """Every record on a topic (its broker-side name) that arrives within a few seconds, from the start."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        return [record for records in batches.values() for record in records]
    finally:
        await consumer.stop()


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], limit_seconds: float = 240.0) -> T:
    """Poll until `done` holds; the timeout only bounds a broken run, it asserts nothing about speed."""
    deadline = time.monotonic() + limit_seconds
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {limit_seconds:.0f}s; last seen {value}")
        await asyncio.sleep(0.5)


async def settled(engine: AsyncEngine, worker: SagaWorker, households: int, programs: int) -> SagaStatus:
    """The saga has processed everything there is: statuses agree and no consumer lags behind."""

    async def probe() -> tuple[SagaStatus, int]:
        return await saga_status(engine), await worker.lag()

    status, _ = await eventually(probe, lambda seen: seen[0].settled(households, programs) and seen[1] == 0)
    return status


@contextmanager
def isolated_worker(
    stack: Stack, settings: Settings, folder: Path, extra_env: dict[str, str] | None = None
) -> Iterator[SagaWorker]:
    """A migrated database of its own and a worker on it; both gone afterwards."""
    database = f"dsrs_saga_{uuid.uuid4().hex[:8]}"
    stack.postgres.ensure_database("postgres", database)
    isolated = isolated_settings(settings, database, folder / "worker", tag=f"test-{uuid.uuid4().hex[:8]}")
    migrations.migrate(isolated)
    # Spans go to a file the tests can read: the worker is another process, out of an in-memory exporter's reach.
    tracing = {"DSRS_TRACING": "jsonl", "DSRS_TRACING_FILE": str(folder / "spans.jsonl")}
    # Cycles open when a test says so: otherwise the day of the run would decide which payments exist.
    cycles = {"DSRS_PAYMENT_CYCLE_AUTO_OPEN": "false"}
    worker = SagaWorker(isolated, folder / "worker.log", {**tracing, **cycles, **(extra_env or {})})
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        delete_topics_of(isolated)
        stack.postgres.drop_database(database)


async def assert_saga_consistent(engine: AsyncEngine, worker: SagaWorker, programs: int) -> None:
    """Every household decided once per program for its current version, every approval paid exactly
    once, and the live KPIs equal to what PostgreSQL holds."""
    async with engine.connect() as connection:
        undecided = await connection.scalar(
            text(
                "SELECT count(*) FROM households h WHERE (SELECT count(*) FROM eligibility_assessments a "
                "WHERE a.household_id = h.id AND a.household_version = h.version) <> :programs"
            ),
            {"programs": programs},
        )
        unpaid_or_twice = await connection.scalar(
            text(
                "SELECT count(*) FROM eligibility_assessments a JOIN households h "
                "ON h.id = a.household_id AND h.version = a.household_version "
                "WHERE a.decision = 'approved' AND (SELECT count(*) FROM payments p "
                "WHERE p.household_id = a.household_id AND p.program_id = a.program_id) <> 1"
            )
        )
        kpis = {
            name: int(value)
            for name, value in await connection.execute(
                text(
                    "SELECT decision, count(*) FROM eligibility_assessments GROUP BY decision "
                    "UNION ALL SELECT 'payments_scheduled', count(*) FROM payments"
                )
            )
        }
    assert undecided == 0
    assert unpaid_or_twice == 0
    async with worker.client(Role.AUDITOR) as client:
        summary = (await client.get("/api/v1/analytics/summary")).json()
    assert summary["approved"] == kpis.get("approved", 0)
    assert summary["denied"] == kpis.get("denied", 0)
    assert summary["payments_scheduled"] == kpis.get("payments_scheduled", 0)


@asynccontextmanager
async def engine_of(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(worker.settings, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def postgres_kpis(engine: AsyncEngine) -> dict[str, int]:
    """The KPIs as PostgreSQL's assessments and payments have them."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT decision, count(*) FROM eligibility_assessments GROUP BY decision "
                "UNION ALL SELECT 'payments', count(*) FROM payments"
            )
        )
        found = {name: int(count) for name, count in rows}
    return {
        "approved": found.get("approved", 0),
        "denied": found.get("denied", 0),
        "assessed": found.get("approved", 0) + found.get("denied", 0),
        "payments_scheduled": found.get("payments", 0),
    }


async def mongo_kpis(settings: Settings) -> dict[str, int]:
    """The rollups in the MongoDB-protocol store, added up the way a dashboard would."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    try:
        totals: dict[str, int] = defaultdict(int)
        async for document in client[settings.mongo_database][TOTALS].find({}):
            for metric, value in document["metrics"].items():
                totals[metric] += value["count"]
    finally:
        await client.close()
    return {metric: totals[metric] for metric in ("approved", "denied", "assessed", "payments_scheduled")}


async def payment_statuses(engine: AsyncEngine) -> dict[str, int]:
    """How many payments are in each state that has any."""
    async with engine.connect() as connection:
        return {status: count for status, count in (await payments_by_status(connection)).items() if count}
