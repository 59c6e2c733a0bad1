"""The worker's outbox relay in a child process, so that it has a core of its own: Python runs one
thread of a process at a time, and the relay would otherwise share the agents' (docs/performance.md).

Both ends are here. The worker (`RelayProcess`) starts `python -m <child module>` (a module of the
wiring that calls `run_child` with the deployment's relay), writes its settings to the child's stdin
as one JSON line and keeps that pipe open: the child stops when it closes,
so a worker that dies, even by SIGKILL, takes its relay with it. The child writes how many
events each claim published, one number a line, on stdout; the worker adds them to its
`dsrs_outbox_published_events_total`. The child logs to stderr. A child that exits while the worker
runs is started again. Any number of relays may run against one outbox (see dsrs.outbox.relay), so one
that outlives its worker for a moment does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import signal
import sys
from collections.abc import Callable

import uvloop
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.engine import create_engine
from dsrs.events.producer import saga_producer
from dsrs.kafka.reconnect import RECONNECT_BACKOFF_INITIAL_SECONDS, install_reconnect_backoff
from dsrs.monitoring.heap import freeze_startup_heap
from dsrs.monitoring.logs import logging_config
from dsrs.monitoring.metrics import OUTBOX_PUBLISHED
from dsrs.monitoring.outages import BrokerOutageLog, install_outage_log, watch_outages
from dsrs.monitoring.scrubbing import install_scrubbing
from dsrs.monitoring.tracing import configure_tracing
from dsrs.outbox.relay import OutboxRelay, relay_woken_by_notify
from dsrs.settings import Settings
from dsrs.waiting import Backoff, first_of, wait_at_most

log = logging.getLogger(__name__)

# How the child builds its relay: the deployment's topic names and fan-out, reporting through the callback.
RelayFactory = Callable[[Settings, AsyncEngine, AIOKafkaProducer, Callable[[int], None]], OutboxRelay]
# A child that ran at least this long had started well: its next failure is not one of a series.
STEADY_SECONDS = 60.0


class RelayProcess:
    """Runs the relay child for as long as the worker runs; started again if it exits (after
    `restart_seconds`, doubling while it keeps failing), and asked to stop (SIGTERM, then SIGKILL after
    `stop_seconds`) when the worker stops."""

    def __init__(
        self,
        settings: Settings,
        child_module: str,
        on_published: Callable[[int], None] = OUTBOX_PUBLISHED.inc,
        restart_seconds: float = 1.0,
        stop_seconds: float = 10.0,
    ) -> None:
        self.settings = settings
        self.child_module = child_module
        self.on_published = on_published
        # Doubling while the child keeps failing (a broker that is down, say), so that a child that cannot
        # start does not fill the log.
        self.restart = Backoff(first_seconds=restart_seconds)
        self.stop_seconds = stop_seconds
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        failures_in_a_row = 0
        while not stopping.is_set():
            started_at = loop.time()
            process = self.process = await spawn_child(self.settings, self.child_module)
            self.started += 1
            assert process.stdout is not None
            reports = asyncio.ensure_future(self._read_reports(process.stdout))
            try:
                await first_of(process.wait(), stopping.wait())
            finally:
                if process.returncode is None:
                    await self._stop(process)
                # Whatever the child reported before it went still counts.
                with contextlib.suppress(asyncio.CancelledError):
                    await reports
            if stopping.is_set():
                return
            failures_in_a_row = 1 if loop.time() - started_at >= STEADY_SECONDS else failures_in_a_row + 1
            delay = self.restart.delay(failures_in_a_row)
            log.error(
                "outbox relay process %d exited with code %s; starting another in %.1fs",
                process.pid,
                process.returncode,
                delay,
            )
            await wait_at_most(stopping, delay)

    async def _read_reports(self, stdout: asyncio.StreamReader) -> None:
        async for line in stdout:
            with contextlib.suppress(ValueError):
                self.on_published(int(line))

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        # The child finishes the claim it holds (an unfinished one is rolled back and published again).
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(self.stop_seconds):
                await process.wait()
        except TimeoutError:
            log.warning("outbox relay process %d did not stop in %.0fs; killing it", process.pid, self.stop_seconds)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def spawn_child(settings: Settings, child_module: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        child_module,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    # Through the pipe, not the environment: settings built in code reach the child too, and secrets do
    # not show in its /proc/<pid>/environ.
    process.stdin.write(settings.model_dump_json().encode() + b"\n")
    await process.stdin.drain()
    return process


def run_child(build_relay: RelayFactory) -> None:
    """The child: relay until SIGTERM or until the worker closes our stdin."""
    line = sys.stdin.buffer.readline()
    if not line.strip():
        sys.exit("dsrs relay: expected the worker's settings as one JSON line on stdin")
    settings = Settings.model_validate_json(line)
    # Ctrl-C in a terminal reaches the whole process group: the worker stops its relay itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    install_scrubbing()
    outage_log = install_outage_log()
    install_reconnect_backoff(RECONNECT_BACKOFF_INITIAL_SECONDS, settings.kafka_reconnect_backoff_max_seconds)
    config = logging_config(settings.log_level, settings.log_format == "json", stream="ext://sys.stderr")
    if config is None:
        logging.basicConfig(
            level=settings.log_level.upper(),
            stream=sys.stderr,
            format="[%(asctime)s] [relay %(process)d] [%(levelname)s] %(name)s: %(message)s",
        )
    else:
        logging.config.dictConfig(config)
    configure_tracing(settings.tracing, settings.app_id, settings.tracing_otlp_endpoint, settings.tracing_file)
    uvloop.run(_relay(settings, build_relay, outage_log))


async def _relay(settings: Settings, build_relay: RelayFactory, outage_log: BrokerOutageLog) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    lifeline = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lifeline), sys.stdin)
    watching = asyncio.ensure_future(_set_at_eof(lifeline, stopping))
    outages = asyncio.ensure_future(watch_outages(outage_log, stopping))
    producer = saga_producer(settings)
    engine = create_engine(settings, pool_size=2, pre_ping=False)
    try:
        await producer.start()
        relay = build_relay(settings, engine, producer, _report)
        freeze_startup_heap()
        await relay_woken_by_notify(relay, settings, stopping)
    finally:
        watching.cancel()
        outages.cancel()
        await producer.stop()
        await engine.dispose()


async def _set_at_eof(reader: asyncio.StreamReader, event: asyncio.Event) -> None:
    await reader.read()
    event.set()


def _report(published: int) -> None:
    sys.stdout.buffer.write(b"%d\n" % published)
    sys.stdout.buffer.flush()
