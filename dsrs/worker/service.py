"""The worker's background duties, for as long as it runs: the outbox relay (in a child process, or on
this loop with its NOTIFY listener), payment dispatch, the provider's settlement reports (the simulator's,
or G2P Connect status requests), activating program versions and re-assessing the registry under them,
opening payment cycles, the hourly deadline check, the DCI callbacks, the KPI rollups and
the state gauges."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mode import Service

from dsrs.db.processed_events import prune_processed_events
from dsrs.events.topics import DEAD_LETTER_TOPICS
from dsrs.monitoring.outages import install_outage_log, watch_outages
from dsrs.outbox.relay import relay_woken_by_notify
from dsrs.outbox.relay_process import RelayProcess
from dsrs.streams.errors import is_transient
from dsrs.transport_security import kafka_client_options
from dsrs.waiting import wait_at_most
from dsrs.worker.gauges import GaugeCollector
from dsrs.worker.relay import CHILD_MODULE
from dsrs.worker.runtime import Runtime

log = logging.getLogger(__name__)

# How stale the Mongo rollups may be: each key is written at most this often, since every upsert costs
# the store (and PostgreSQL behind FerretDB) CPU. The API's KPIs come from the worker's own tables.
ROLLUP_SECONDS = 5.0
# How often the claims past the dedupe window are looked for; while there are some, batches follow at once.
PRUNE_SECONDS = 60.0
# How soon a dead letter is retried after what it depended on changed (a worker restarted with new settings).
LETTER_RETRY_SECONDS = 5.0
# How often a worker activates program versions whose effective time has come, and refreshes its catalog.
PROGRAM_CHECK_SECONDS = 2.0
# How often a worker looks for DCI callbacks due (notifications, asynchronous answers, retries).
DCI_CALLBACK_SECONDS = 0.25
# How often a worker looks for payment cycles to open: cycles open days ahead, a minute late is nothing.
CYCLE_CHECK_SECONDS = 60.0


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


class WorkerService(Service):
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
            await RelayProcess(self.runtime.settings, CHILD_MODULE).run(self._stopping)
            return
        await relay_woken_by_notify(self.runtime.relay, self.runtime.settings, self._stopping)

    @Service.task
    async def _dispatch_payments(self) -> None:
        await self.runtime.start()
        await run_until_stopped("payment dispatcher", self.runtime.dispatcher.dispatch_due, self._stopping)

    @Service.task
    async def _report_settlements(self) -> None:
        await self.runtime.start()
        if self.runtime.reports_settlements:
            await run_until_stopped("simulated provider", self.runtime.report_settlements, self._stopping)

    @Service.task
    async def _send_dci_callbacks(self) -> None:
        await self.runtime.start()
        sender = self.runtime.dci_callbacks()
        await run_until_stopped("dci callbacks", sender.step, self._stopping, idle_seconds=DCI_CALLBACK_SECONDS)

    @Service.task
    async def _tell_broker_outages(self) -> None:
        await watch_outages(install_outage_log(), self._stopping)

    @Service.task
    async def _prune_processed_events(self) -> None:
        await self.runtime.start()
        window_seconds = self.runtime.settings.dedupe_window_hours * 3600

        async def prune() -> int:
            async with self.runtime.saga_engine.begin() as connection:
                return await prune_processed_events(connection, window_seconds)

        await run_until_stopped("processed-events pruning", prune, self._stopping, idle_seconds=PRUNE_SECONDS)

    @Service.task
    async def _activate_programs(self) -> None:
        await self.runtime.start()
        step = self.runtime.activate_due_programs
        await run_until_stopped("program activation", step, self._stopping, idle_seconds=PROGRAM_CHECK_SECONDS)

    @Service.task
    async def _reassess(self) -> None:
        await self.runtime.start()
        await run_until_stopped("re-assessment", self.runtime.reassessor().step, self._stopping, idle_seconds=1.0)

    @Service.task
    async def _open_payment_cycles(self) -> None:
        await self.runtime.start()
        if self.runtime.settings.payment_cycle_auto_open:
            step = self.runtime.open_due_cycles
            await run_until_stopped("payment cycles", step, self._stopping, idle_seconds=CYCLE_CHECK_SECONDS)

    @Service.task
    async def _check_payment_deadlines(self) -> None:
        await self.runtime.start()
        every = self.runtime.settings.reconcile_every_seconds
        await run_until_stopped("payment deadlines", self.runtime.check_deadlines, self._stopping, idle_seconds=every)

    @Service.task
    async def _retry_dead_letters(self) -> None:
        await self.runtime.start()
        retrier = self.runtime.letter_retrier()
        await run_until_stopped("dead-letter retrier", retrier.step, self._stopping, idle_seconds=LETTER_RETRY_SECONDS)

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
