"""The deployment's outbox relay (its topic names, and analytics' bundles as its fan-out), and the entry
point of the child process that runs it (`python -m dsrs.worker.relay`, started by the worker)."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.bundle import AnalyticsFanOut
from dsrs.events.topics import ANALYTICS_BY_PROGRAM_REGION
from dsrs.monitoring.metrics import OUTBOX_PUBLISHED
from dsrs.outbox.relay import OutboxRelay
from dsrs.outbox.relay_process import run_child
from dsrs.settings import Settings

CHILD_MODULE = "dsrs.worker.relay"


def deployment_relay(
    settings: Settings,
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    on_published: Callable[[int], None] = OUTBOX_PUBLISHED.inc,
) -> OutboxRelay:
    return OutboxRelay(
        engine,
        producer,
        topic_prefix=settings.topic_prefix,
        fan_out=AnalyticsFanOut(settings.topic(ANALYTICS_BY_PROGRAM_REGION)),
        on_published=on_published,
    )


if __name__ == "__main__":
    run_child(deployment_relay)
