"""What a worker's agents and API share: connections, the loaded programs, the outbox relay.

Started once, lazily and idempotently, on the worker's own event loop: agents may start
consuming before Faust starts the services, so whoever needs the runtime first starts it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service
from pymongo import AsyncMongoClient
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.counter import AnalyticsCounter
from dsrs.analytics.mirror import KpiMirror
from dsrs.analytics.rollups import MongoRollups
from dsrs.db.engine import create_engine
from dsrs.dlq.publisher import DeadLetterPublisher
from dsrs.eligibility.assessor import EligibilityHandler
from dsrs.events.producer import saga_producer
from dsrs.events.topics import DEAD_LETTER_TOPICS, PROVIDER_SETTLEMENT
from dsrs.kafka_admin import ensure_topics
from dsrs.monitoring.collector import GaugeCollector
from dsrs.outbox.relay import OutboxRelay, relay_woken_by_notify
from dsrs.outbox.relay_process import RelayProcess
from dsrs.payment.dispatcher import PaymentDispatcher
from dsrs.payment.scheduler import PaymentScheduler
from dsrs.payment.settlement import SettlementHandler
from dsrs.payment.simulated_provider import SimulatedProvider
from dsrs.payment.statements import StatementHandler
from dsrs.registry.intake import IntakeHandler
from dsrs.rules import Program, active_programs, load_programs
from dsrs.settings import Settings
from dsrs.streams.errors import is_transient
from dsrs.tables.analytics import AnalyticsTables
from dsrs.transport_security import kafka_client_options
from dsrs.waiting import wait_at_most

log = logging.getLogger(__name__)

# How stale the Mongo rollups may be: they are written at most this often, once per key. FerretDB
# spends about 1.5 ms of CPU on an upsert (and PostgreSQL more behind it), so this is what the rollups
# cost the machine: every 2 s, FerretDB alone took 38 us of CPU a household at full speed. Dashboards
# scraping every 15 s see no difference; the API's KPIs come from the worker's own tables.
ROLLUP_SECONDS = 5.0


class Runtime:
    def __init__(self, settings: Settings, tables: AnalyticsTables) -> None:
        self.settings = settings
        self.tables = tables
        # Loaded now, so that a broken program file stops the worker before it consumes anything.
        self.programs: list[Program] = active_programs(load_programs(settings.programs_dir))
        self._lock: asyncio.Lock | None = None
        self._started = False
        # The API's connections are checked before use, so a request after a database restart succeeds.
        self.engine: AsyncEngine
        # The saga's are not: a batch retries a dropped connection (dsrs.streams.processing), and the
        # check costs a round trip and ~0.35 ms of the event loop per transaction.
        self.saga_engine: AsyncEngine
        self.producer: AIOKafkaProducer
        self.mongo: AsyncMongoClient[dict[str, Any]]
        self.dead_letters: DeadLetterPublisher
        self.relay: OutboxRelay
        self.provider: SimulatedProvider
        self.dispatcher: PaymentDispatcher
        self.rollups: MongoRollups

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
        producer = saga_producer(settings)
        await producer.start()
        self.producer = producer
        self.engine = create_engine(settings)
        self.saga_engine = create_engine(settings, pre_ping=False)
        self.mongo = AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=10_000, tz_aware=True)
        self.rollups = MongoRollups(self.mongo, settings.mongo_database)
        self.dead_letters = DeadLetterPublisher(producer)
        # Run here, or only asked for its lag when a child process relays (RuntimeService._relay).
        self.relay = OutboxRelay.of_deployment(settings, self.saga_engine, producer)
        self.provider = SimulatedProvider(
            self.saga_engine, settings.provider_latency_seconds, settings.provider_failure_rate
        )
        self.dispatcher = PaymentDispatcher(
            self.saga_engine, self.provider, settings.source_name, settings.payment_send_ahead_days
        )
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.producer.stop()
        await self.engine.dispose()
        await self.saga_engine.dispose()
        await self.mongo.close()

    def intake(self) -> IntakeHandler:
        return IntakeHandler(self.saga_engine, self.settings.regions, self.settings.source_name)

    def eligibility(self) -> EligibilityHandler:
        return EligibilityHandler(self.saga_engine, self.programs, self.settings.source_name)

    def payment(self) -> PaymentScheduler:
        settings = self.settings
        return PaymentScheduler(
            self.saga_engine,
            self.programs,
            settings.source_name,
            settings.payment_max_attempts,
            settings.payment_settlement_days,
        )

    def settlement(self) -> SettlementHandler:
        return SettlementHandler(self.saga_engine, self.settings.source_name, self.settings.payment_retry_base_seconds)

    def statements(self) -> StatementHandler:
        return StatementHandler(self.saga_engine)

    async def report_settlements(self) -> int:
        return await self.provider.report_due(self.producer, self.settings.topic(PROVIDER_SETTLEMENT))

    def analytics_counter(self) -> AnalyticsCounter:
        return AnalyticsCounter(self.saga_engine, KpiMirror(self.tables, self.rollups))


async def run_until_stopped(
    name: str,
    step: Callable[[], Awaitable[int]],
    stopping: asyncio.Event,
    idle_seconds: float = 0.5,
    busy_seconds: float = 0.0,
) -> None:
    """Call `step` again after `busy_seconds` while it finds work, after `idle_seconds` when it finds none,
    and after a growing pause when it fails: a background duty of the worker never dies of one failure."""
    failures = 0
    while not stopping.is_set():
        try:
            done = await step()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failures += 1
            log.warning("%s: %s (%d in a row)", name, type(error).__name__, failures, exc_info=not is_transient(error))
            done = 0
        if done == 0:
            pause = idle_seconds if failures == 0 else min(30.0, idle_seconds * 2**failures)
        else:
            pause = busy_seconds
        if pause > 0:
            await wait_at_most(stopping, pause)


class RuntimeService(Service):
    """Runs the outbox relay (in a child process, or on this loop with its NOTIFY listener) and the worker's
    other background duties for as long as the worker runs."""

    def __init__(self, runtime: Runtime, consumed_topics: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.consumed_topics = consumed_topics
        self._stopping = asyncio.Event()

    async def on_start(self) -> None:
        await self.runtime.start()

    async def on_stop(self) -> None:
        self._stopping.set()

    async def on_shutdown(self) -> None:
        if self.runtime.started:
            # What the last batches counted reaches the rollups before the worker goes; if the store is
            # down, the values reach it with the next batch of the same keys (PostgreSQL has them all).
            try:
                await self.runtime.rollups.flush()
            except Exception as error:
                unwritten = self.runtime.rollups.pending
                log.warning("kpi rollups: %s at shutdown; %d keys not written", type(error).__name__, unwritten)
        await self.runtime.stop()

    @Service.task
    async def _relay(self) -> None:
        await self.runtime.start()
        if self.runtime.settings.relay_process:
            await RelayProcess(self.runtime.settings).run(self._stopping)
            return
        await relay_woken_by_notify(self.runtime.relay, self.runtime.settings, self._stopping)

    @Service.task
    async def _dispatch_payments(self) -> None:
        await self.runtime.start()
        await run_until_stopped("payment dispatcher", self.runtime.dispatcher.dispatch_due, self._stopping)

    @Service.task
    async def _report_settlements(self) -> None:
        await self.runtime.start()
        await run_until_stopped("simulated provider", self.runtime.report_settlements, self._stopping)

    @Service.task
    async def _flush_rollups(self) -> None:
        await self.runtime.start()
        await run_until_stopped(
            "kpi rollups", self.runtime.rollups.flush, self._stopping, ROLLUP_SECONDS, busy_seconds=ROLLUP_SECONDS
        )

    @Service.task
    async def _collect_gauges(self) -> None:
        await self.runtime.start()
        settings = self.runtime.settings
        collector = GaugeCollector(
            self.runtime.saga_engine,
            self.runtime.relay,
            settings.bootstrap_servers,
            settings.app_id,
            [settings.topic(topic) for topic in self.consumed_topics],
            [settings.topic(topic) for topic in DEAD_LETTER_TOPICS],
            kafka_client_options(settings),
        )
        await run_until_stopped("metrics", collector.collect, self._stopping, idle_seconds=5.0)
