"""What a worker's agents and API share: connections, the loaded programs, the outbox relay.

Started once, lazily and idempotently, on the worker's own event loop: agents may start
consuming before Faust starts the services, so whoever needs the runtime first starts it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service
from pymongo import AsyncMongoClient
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.counter import AnalyticsCounter
from dsrs.analytics.mirror import KpiMirror
from dsrs.analytics.rollups import MongoRollups
from dsrs.analytics.router import AnalyticsRouter
from dsrs.db.engine import create_engine
from dsrs.dlq.publisher import DeadLetterPublisher
from dsrs.eligibility.assessor import EligibilityHandler
from dsrs.events.topics import ANALYTICS_BY_PROGRAM_REGION
from dsrs.kafka_admin import ensure_topics
from dsrs.outbox.notify import OutboxListener
from dsrs.outbox.relay import OutboxRelay
from dsrs.payment.scheduler import PaymentScheduler
from dsrs.registry.intake import IntakeHandler
from dsrs.rules import Program, active_programs, load_programs
from dsrs.settings import Settings
from dsrs.streams.errors import is_transient
from dsrs.tables.analytics import AnalyticsTables
from dsrs.transport_security import kafka_client_options

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, tables: AnalyticsTables) -> None:
        self.settings = settings
        self.tables = tables
        # Loaded now, so that a broken program file stops the worker before it consumes anything.
        self.programs: list[Program] = active_programs(load_programs(settings.programs_dir))
        self._lock: asyncio.Lock | None = None
        self._started = False
        self.engine: AsyncEngine
        self.producer: AIOKafkaProducer
        self.mongo: AsyncMongoClient[dict[str, Any]]
        self.dead_letters: DeadLetterPublisher
        self.relay: OutboxRelay

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        if self._started:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            attempt = 0
            while not self._started:
                attempt += 1
                try:
                    await self._start_once()
                except Exception as error:
                    if not is_transient(error):
                        raise
                    log.warning("runtime: %s while starting (attempt %d); retrying", type(error).__name__, attempt)
                    await asyncio.sleep(min(30.0, 0.5 * 2**attempt))

    async def _start_once(self) -> None:
        settings = self.settings
        await ensure_topics(settings, settings.topic_partitions)
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            **kafka_client_options(settings),
        )
        await producer.start()
        self.producer = producer
        self.engine = create_engine(settings)
        self.mongo = AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=10_000, tz_aware=True)
        self.dead_letters = DeadLetterPublisher(producer)
        self.relay = OutboxRelay(self.engine, producer, topic_prefix=settings.topic_prefix)
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.producer.stop()
        await self.engine.dispose()
        await self.mongo.close()

    def intake(self) -> IntakeHandler:
        return IntakeHandler(self.engine, self.settings.regions, self.settings.source_name)

    def eligibility(self) -> EligibilityHandler:
        return EligibilityHandler(self.engine, self.programs, self.settings.source_name)

    def payment(self) -> PaymentScheduler:
        return PaymentScheduler(self.engine, self.programs, self.settings.source_name)

    def analytics_router(self) -> AnalyticsRouter:
        return AnalyticsRouter(self.producer, self.settings.topic(ANALYTICS_BY_PROGRAM_REGION))

    def analytics_counter(self) -> AnalyticsCounter:
        rollups = MongoRollups(self.mongo, self.settings.mongo_database)
        return AnalyticsCounter(self.engine, KpiMirror(self.tables, rollups))


class RuntimeService(Service):
    """Runs the outbox relay and its NOTIFY listener for as long as the worker runs."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self._stopping = asyncio.Event()

    async def on_start(self) -> None:
        await self.runtime.start()

    async def on_stop(self) -> None:
        self._stopping.set()

    async def on_shutdown(self) -> None:
        await self.runtime.stop()

    @Service.task
    async def _relay(self) -> None:
        await self.runtime.start()
        await self.runtime.relay.run(self._stopping)

    @Service.task
    async def _listen(self) -> None:
        await self.runtime.start()
        listener = OutboxListener(self.runtime.settings.database_url, self.runtime.relay.wake)
        await listener.run(self._stopping)
