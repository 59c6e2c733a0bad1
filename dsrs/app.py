"""The Faust application: one worker process runs the saga's agents, its tables and the HTTP API."""

from __future__ import annotations

import faust

from dsrs.settings import Settings
from dsrs.web.app import create_web_app


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        "dsrs",
        broker=settings.kafka_url,
        store="rocksdb://",
        datadir=str(settings.worker_data_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        # Effects are deduplicated in PostgreSQL; Faust's exactly-once is not relied upon.
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_bind=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )
    # Our Starlette app replaces Faust's aiohttp server, and with it the unauthenticated /table and /router pages.
    from faust.contrib.asgi import serve_asgi

    serve_asgi(app, create_web_app(settings), host=settings.web_host, port=settings.web_port, log_level="warning")
    return app
