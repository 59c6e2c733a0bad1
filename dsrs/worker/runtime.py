"""What a worker's agents and API share: connections, the loaded programs, the outbox relay, the
payment provider, and each stage's handler built from them.

Started once, lazily and idempotently, on the worker's own event loop: agents may start
consuming before Faust starts the services, so whoever needs the runtime first starts it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs import __version__
from dsrs.analytics.counter import AnalyticsCounter
from dsrs.analytics.mirror import KpiMirror
from dsrs.analytics.rollups import MongoRollups
from dsrs.db.engine import create_engine
from dsrs.dci.delivery import CallbackSender
from dsrs.dci.envelope import Party
from dsrs.dci.notify import NotifyHandler
from dsrs.dci.service import DciService
from dsrs.dlq.causes import PROGRAMS
from dsrs.dlq.publisher import DeadLetterPublisher
from dsrs.eligibility.assessor import EligibilityHandler
from dsrs.eligibility.reassessment import Reassessor
from dsrs.events.producer import saga_producer
from dsrs.events.topics import PROVIDER_SETTLEMENT
from dsrs.kafka.admin import ensure_topics
from dsrs.outbox.relay import OutboxRelay
from dsrs.payment.dispatcher import PaymentDispatcher
from dsrs.payment.opening import CycleTerms, open_due_cycles
from dsrs.payment.providers import create_provider
from dsrs.payment.providers.base import PaymentProvider, ReportsSettlements
from dsrs.payment.reconciliation import check_deadlines_now
from dsrs.payment.scheduler import PaymentScheduler
from dsrs.payment.settlement import SettlementHandler
from dsrs.payment.statements import StatementHandler
from dsrs.programs.catalog import ProgramCatalog
from dsrs.programs.deploy import activate_due, deploy_files, program_files
from dsrs.recovery.contexts import deployment_contexts, programs_fingerprint
from dsrs.recovery.reprocess import DeadLetterHandler
from dsrs.recovery.retrier import LetterRetrier
from dsrs.registry.duplicates import DuplicateMatching
from dsrs.registry.intake import IntakeHandler
from dsrs.rules import program_from_text
from dsrs.settings import Settings
from dsrs.streams.errors import is_transient
from dsrs.tables.analytics import AnalyticsTables
from dsrs.worker.colocation import ColocatedStages
from dsrs.worker.relay import deployment_relay

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, tables: AnalyticsTables) -> None:
        self.settings = settings
        self.tables = tables
        # Read now, so that a broken program file stops the worker before it consumes anything; deployed
        # (if new) when the runtime starts. What decides is the catalog: the versions deployed and active.
        self.shipped_programs = program_files(settings.programs_dir)
        self.catalog = ProgramCatalog()
        shipped = [program_from_text(content, str(path)) for path, content in self.shipped_programs]
        self.matching = DuplicateMatching.from_settings(settings)
        # What dead letters depended on: a letter whose cause's fingerprint differs from this is retried.
        self.contexts = deployment_contexts(
            settings.regions, [(program.id, program.version) for program in shipped], __version__
        )
        self._lock: asyncio.Lock | None = None
        self._started = False
        # The API's connections are checked before use, so a request after a database restart succeeds.
        self.engine: AsyncEngine
        # The saga's are not: a batch retries a dropped connection (dsrs.streams.processing), and the
        # check would cost a round trip per transaction.
        self.saga_engine: AsyncEngine
        self.producer: AIOKafkaProducer
        self.mongo: AsyncMongoClient[dict[str, Any]]
        self.dead_letters: DeadLetterPublisher
        self.relay: OutboxRelay
        self.provider: PaymentProvider
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
        await ensure_topics(settings, settings.topic_partitions, compacted=self.tables.changelog_topics())
        producer = saga_producer(settings)
        await producer.start()
        self.producer = producer
        self.engine = create_engine(settings)
        self.saga_engine = create_engine(settings, pre_ping=False)
        self.mongo = AsyncMongoClient(settings.mongo_url, serverSelectionTimeoutMS=10_000, tz_aware=True)
        self.rollups = MongoRollups(self.mongo, settings.mongo_database)
        self.dead_letters = DeadLetterPublisher(producer, self.saga_engine, self.contexts)
        # Run here, or only asked for its lag when a child process relays (WorkerService._relay).
        self.relay = deployment_relay(settings, self.saga_engine, producer)
        self.provider = create_provider(settings, self.saga_engine)
        self.dispatcher = PaymentDispatcher(
            self.saga_engine, self.provider, settings.source_name, settings.payment_send_ahead_days
        )
        async with self.saga_engine.begin() as connection:
            deployed_by = f"worker {settings.app_id} ({settings.programs_dir})"
            now = datetime.now(UTC)
            await deploy_files(connection, self.shipped_programs, deployed_by, now, settings.source_name)
            await self.catalog.active(connection)
        self._note_programs()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.producer.stop()
        await self.engine.dispose()
        await self.saga_engine.dispose()
        await self.mongo.close()

    def intake(self) -> IntakeHandler | ColocatedStages:
        intake = IntakeHandler(self.saga_engine, self.settings.regions, self.settings.source_name, self.matching)
        if not self.settings.colocated_stages:
            return intake
        # Every worker runs every agent, so the intake's worker can assess and pay what it registers.
        return ColocatedStages(self.saga_engine, intake, (self.eligibility(), self.payment()))

    def eligibility(self) -> EligibilityHandler:
        return EligibilityHandler(self.saga_engine, self.catalog, self.settings.source_name)

    def reassessor(self) -> Reassessor:
        return Reassessor(
            self.saga_engine, self.catalog, self.settings.source_name, self.settings.reassessment_page_size
        )

    async def activate_due_programs(self) -> int:
        """Activate the program versions whose effective time has come; refresh the catalog."""
        async with self.saga_engine.begin() as connection:
            activated = await activate_due(connection, datetime.now(UTC), self.settings.source_name)
            await self.catalog.active(connection)
        self._note_programs()
        return len(activated)

    def _note_programs(self) -> None:
        """Dead letters that depended on the programs are retried once the versions deciding have changed."""
        self.contexts[PROGRAMS] = programs_fingerprint(
            (program.id, program.version) for program in self.catalog.current.values()
        )

    def payment(self) -> PaymentScheduler:
        settings = self.settings
        return PaymentScheduler(
            self.saga_engine,
            self.catalog,
            settings.source_name,
            settings.payment_max_attempts,
            settings.payment_settlement_days,
            settings.payment_send_ahead_days,
        )

    @property
    def cycle_terms(self) -> CycleTerms:
        settings = self.settings
        return CycleTerms(settings.payment_settlement_days, settings.payment_max_attempts, settings.source_name)

    async def open_due_cycles(self) -> int:
        """Open each program's cycles due within DSRS_PAYMENT_CYCLE_OPEN_DAYS; finish any left opening."""
        days = self.settings.payment_cycle_open_days
        programs = list(self.catalog.current.values())
        return await open_due_cycles(self.saga_engine, programs, date.today(), days, self.cycle_terms)

    async def check_deadlines(self) -> int:
        return await check_deadlines_now(self.saga_engine)

    def settlement(self) -> SettlementHandler:
        return SettlementHandler(self.saga_engine, self.settings.source_name, self.settings.payment_retry_base_seconds)

    def statements(self) -> StatementHandler:
        return StatementHandler(self.saga_engine)

    @property
    def reports_settlements(self) -> bool:
        """Whether the provider is one DSRS runs itself, whose settlements the worker reports."""
        return isinstance(self.provider, ReportsSettlements)

    async def report_settlements(self) -> int:
        assert isinstance(self.provider, ReportsSettlements)
        return await self.provider.report_due(self.producer, self.settings.topic(PROVIDER_SETTLEMENT))

    def dead_letter_recorder(self) -> DeadLetterHandler:
        return DeadLetterHandler(self.saga_engine, self.contexts)

    def letter_retrier(self) -> LetterRetrier:
        return LetterRetrier(self.saga_engine, self.producer, self.contexts)

    def analytics_counter(self) -> AnalyticsCounter:
        return AnalyticsCounter(self.saga_engine, KpiMirror(self.tables, self.rollups))

    def dci_notifier(self) -> NotifyHandler:
        return NotifyHandler(self.saga_engine, Party.from_settings(self.settings))

    def dci_callbacks(self) -> CallbackSender:
        return CallbackSender(self.saga_engine, self.settings)

    def dci(self) -> DciService:
        """The DCI Social Registry API's operations, on the API's connections."""
        return DciService(self.engine, self.settings)
