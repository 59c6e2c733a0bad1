"""Publishes households onto the intake topic the way a partner system would (demo, tests, benchmark).

Households go as record batches of up to MAX_BATCH_BYTES a partition (dsrs.events.record_batches), not
one `AIOKafkaProducer.send` each: a send is a metadata wait, a partition lookup and a delivery future
per message, and aiokafka's 16 KiB batches hold few households for the broker to append one by one.
The benchmark publishes on the saga's own cores, so what the publisher and the broker spend is taken
from the saga (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaProducer

from dsrs.events.producer import MAX_BATCH_BYTES
from dsrs.events.record_batches import RecordBatches
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options
from dsrs_dev.synthetic import IntakeMessage

# How long a paced publisher lets households gather before handing them over, as a producer's linger would.
PACED_FLUSH_SECONDS = 0.01


async def publish_intake(
    settings: Settings,
    messages: Iterable[IntakeMessage],
    on_sent: Callable[[int], None] = lambda count: None,
    window: int = 1000,
    topic: str = HOUSEHOLD_INTAKE,
    per_second: float | None = None,
) -> int:
    """Send every message and wait for the broker's acknowledgement of each; returns how many were sent.

    Messages go `window` at a time, as one record batch per partition. With `per_second`, they are paced
    to that offered load instead of sent as fast as possible, and handed over every PACED_FLUSH_SECONDS.
    The broker is reached as `settings` say, TLS and SASL included.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        max_batch_size=MAX_BATCH_BYTES,
        **kafka_client_options(settings),
    )
    await producer.start()
    sent = 0
    try:
        batches = RecordBatches(producer)
        waiting = 0
        started = flushed = time.monotonic()

        async def hand_over() -> None:
            nonlocal sent, waiting, flushed
            await batches.delivered()
            sent += waiting
            on_sent(waiting)
            waiting = 0
            flushed = time.monotonic()

        for number, message in enumerate(messages):
            if per_second:
                delay = started + number / per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await batches.add(topic, message.key, message.value, message.headers)
            waiting += 1
            if waiting >= window or (per_second and time.monotonic() - flushed >= PACED_FLUSH_SECONDS):
                await hand_over()
        await hand_over()
    finally:
        await producer.stop()
    return sent
