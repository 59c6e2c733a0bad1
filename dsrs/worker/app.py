"""The Faust application: one worker process runs the saga's agents, its tables and the HTTP API."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi
from faust.types import TransportT
from mode import ServiceT
from starlette.types import ASGIApp

from dsrs.kafka.reconnect import RECONNECT_BACKOFF_INITIAL_SECONDS, install_reconnect_backoff
from dsrs.monitoring.heap import measure_gc_pauses
from dsrs.monitoring.logs import logging_config
from dsrs.monitoring.outages import install_outage_log
from dsrs.monitoring.scrubbing import install_scrubbing
from dsrs.monitoring.tracing import configure_tracing
from dsrs.settings import Settings
from dsrs.streams.batching import SagaStream
from dsrs.streams.buffers import SagaTopic
from dsrs.streams.faust_internals import HookedApp, remove_monitor_sensor
from dsrs.streams.fetching import SagaTransport
from dsrs.tables.analytics import AnalyticsTables
from dsrs.transport_security import faust_broker_credentials
from dsrs.worker.agents import CONSUMED_TOPICS, register_agents
from dsrs.worker.runtime import Runtime
from dsrs.worker.service import WorkerService

# Smaller than Faust's defaults (4 MiB a partition, 4,096 events a stream), which let a backlog grow the
# worker's memory, yet large enough that a stage's batch fills faster than it is processed
# (docs/performance.md). Every SagaApp gets them, so the dispatch benchmark measures the worker's consumer.
CONSUMER_OPTIONS: dict[str, Any] = {"consumer_max_fetch_size": 512 * 1024, "stream_buffer_maxsize": 1000}


class SagaApp(HookedApp):
    """A Faust app whose streams batch by backlog (SagaStream) and are fed without a task per message
    (SagaTransport) through buffers that hold partitions back without stopping the fetcher (SagaTopic),
    bounded by CONSUMER_OPTIONS, and which runs without Faust's Monitor sensor.

    The Monitor keeps statistics for Faust's own web pages, which this worker does not serve (its
    metrics are Prometheus'), and it runs on every message.
    """

    def __init__(self, id: str, **options: Any) -> None:
        super().__init__(id, **{"Stream": SagaStream, "Topic": SagaTopic, **CONSUMER_OPTIONS, **options})

    def new_transport(self) -> TransportT:
        return SagaTransport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        dependencies = super().on_init_dependencies()
        remove_monitor_sensor(self)
        return dependencies


# The HTTP API the worker serves, made from its runtime; the entry point hands it over (dsrs.web.app).
WebAppFactory = Callable[[Runtime], ASGIApp]


def create_app(settings: Settings, web_app: WebAppFactory | None = None) -> faust.App:
    install_scrubbing()
    install_outage_log()
    install_reconnect_backoff(RECONNECT_BACKOFF_INITIAL_SECONDS, settings.kafka_reconnect_backoff_max_seconds)
    measure_gc_pauses()
    configure_tracing(settings.tracing, settings.app_id, settings.tracing_otlp_endpoint, settings.tracing_file)
    # Faust makes only the last folder of its datadir; on a fresh machine its parents do not exist yet.
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    app = SagaApp(
        settings.app_id,
        broker=settings.kafka_url,
        store="rocksdb://",
        datadir=str(settings.worker_data_dir),
        topic_partitions=settings.topic_partitions,
        # Faust's own topics (its leader topic) are made before the worker can ask the cluster how many
        # brokers it has; DSRS's topics and the tables' changelogs follow DSRS_TOPIC_REPLICATION_FACTOR.
        topic_replication_factor=settings.topic_replication_factor or 1,
        # A worker killed without leaving its group holds its partitions until its session expires.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        # Effects are deduplicated in PostgreSQL; Faust's exactly-once is not relied upon.
        processing_guarantee="at_least_once",
        # Shutdown and rebalance do not wait for messages still buffered in an agent's batch: Faust could
        # wait forever for one that a stopped agent never acknowledges. Not acknowledged means not
        # committed, so the next owner of the partition processes it (once, by its event id).
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        # The saga's topics are often created just after the group's first assignment, which covers only
        # topics that exist; metadata refreshed every 10 s (not 5 minutes) rebalances onto them at once.
        consumer_metadata_max_age_ms=10_000,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
        broker_credentials=faust_broker_credentials(settings),
        logging_config=logging_config(settings.log_level, settings.log_format == "json"),
    )
    runtime = Runtime(settings, AnalyticsTables(app, settings.topic_partitions))
    register_agents(app, runtime)
    app.service(WorkerService(runtime, CONSUMED_TOPICS))  # type: ignore[arg-type]
    if web_app is not None:
        # It replaces Faust's aiohttp server, and with it the unauthenticated /table and /router pages.
        serve_asgi(app, web_app(runtime), host=settings.web_host, port=settings.web_port, log_level="warning")
    return app
