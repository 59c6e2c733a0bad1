"""The Faust application: one worker process runs the saga's agents, its tables and the HTTP API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faust
from faust.contrib.asgi import serve_asgi
from faust.types import TransportT
from mode import ServiceT

from dsrs.auth.local import verifier_for
from dsrs.monitoring.heap import measure_gc_pauses
from dsrs.monitoring.logs import logging_config
from dsrs.monitoring.scrubbing import install_scrubbing
from dsrs.monitoring.tracing import configure_tracing
from dsrs.runtime import Runtime, RuntimeService
from dsrs.settings import Settings
from dsrs.streams.agents import CONSUMED_TOPICS, register_agents
from dsrs.streams.batching import SagaStream
from dsrs.streams.buffers import SagaTopic
from dsrs.streams.fetching import SagaTransport
from dsrs.tables.analytics import AnalyticsTables
from dsrs.transport_security import faust_broker_credentials
from dsrs.web.app import create_web_app

# Faust's defaults prefetch up to 4 MiB per partition and buffer 4,096 events per stream: with a backlog,
# the worker grew from 187 to 331 MiB over 460,000 events. Smaller buffers kept it at about 226 MiB from
# 90,000 events on. 256 KiB a fetch starved the stages, though: with the intake topic 60,000 households
# deep, the intake stage waited longer for each batch of 500 to fill than it took to process it.
# 512 KiB: 60,000 households at 1,830/s (256 KiB: 1,550-1,650/s), the worker flat at 213-216 MiB from
# 20,000 events on. 1 MiB gave 1,720/s at 237 MiB. Every SagaApp gets them, so that the dispatch benchmark
# measures the consumer the worker runs.
CONSUMER_OPTIONS: dict[str, Any] = {"consumer_max_fetch_size": 512 * 1024, "stream_buffer_maxsize": 1000}


class SagaApp(faust.App):
    """A Faust app whose streams batch by backlog (SagaStream) and are fed without a task per message
    (SagaTransport) through buffers that hold partitions back without stopping the fetcher (SagaTopic),
    bounded by CONSUMER_OPTIONS, and which runs without Faust's Monitor sensor.

    The Monitor keeps statistics for Faust's own web pages, which this worker does not serve (its
    metrics are Prometheus'); it runs on every message, about a seventh of an agent's dispatch cost.
    """

    def __init__(self, id: str, **options: Any) -> None:
        super().__init__(id, **{"Stream": SagaStream, "Topic": SagaTopic, **CONSUMER_OPTIONS, **options})

    def _new_transport(self) -> TransportT:
        return SagaTransport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        dependencies = super().on_init_dependencies()
        if self.monitor in self.sensors:
            self.sensors.remove(self.monitor)
        return dependencies


def create_app(settings: Settings) -> faust.App:
    install_scrubbing()
    measure_gc_pauses()
    configure_tracing(settings.tracing, settings.app_id, settings.tracing_otlp_endpoint, settings.tracing_file)
    # Faust makes only the last folder of its datadir: the default, CACHE_DIR/worker/APP_ID, failed to start
    # on a fresh machine with "No such file or directory" for as long as CACHE_DIR/worker did not exist.
    settings.worker_data_dir.mkdir(parents=True, exist_ok=True)
    app = SagaApp(
        settings.app_id,
        broker=settings.kafka_url,
        store="rocksdb://",
        datadir=str(settings.worker_data_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        # Effects are deduplicated in PostgreSQL; Faust's exactly-once is not relied upon.
        processing_guarantee="at_least_once",
        # Shutdown and rebalance do not wait for messages still buffered in an agent's batch: Faust could
        # wait forever for one that a stopped agent never acknowledges. Not acknowledged means not
        # committed, so the next owner of the partition processes it (once, by its event id).
        stream_wait_empty=False,
        consumer_auto_offset_reset="earliest",
        # The group's assignment covers only topics that exist when it is made, and the consumer looks
        # for new ones when its metadata expires (5 minutes by default). On a fresh deployment the saga's
        # topics are created as the worker starts, often just after that first assignment: no agent got
        # a partition for five minutes. Refreshed every 10 s, the worker rebalances onto them at once.
        consumer_metadata_max_age_ms=10_000,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
        broker_credentials=faust_broker_credentials(settings),
        logging_config=logging_config(settings.log_level, settings.log_format == "json"),
    )
    runtime = Runtime(settings, AnalyticsTables(app, settings.topic_partitions))
    register_agents(app, runtime)
    app.service(RuntimeService(runtime, CONSUMED_TOPICS))  # type: ignore[arg-type]
    # Our Starlette app replaces Faust's aiohttp server, and with it the unauthenticated /table and /router pages.
    web = create_web_app(runtime, verifier_for(settings), insecure_bypass=settings.allow_insecure_local)
    serve_asgi(app, web, host=settings.web_host, port=settings.web_port, log_level="warning")
    return app
