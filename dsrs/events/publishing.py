"""Publishing many keyed messages to one topic as a partner would: `dsrs intake load`, and the development
tooling's partner publisher (demo, tests, benchmark).

Messages go as record batches of up to MAX_BATCH_BYTES a partition (dsrs.events.record_batches), not
one `AIOKafkaProducer.send` each: a send is a metadata wait, a partition lookup and a delivery future
per message, and aiokafka's 16 KiB batches hold few messages for the broker to append one by one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence

from aiokafka import AIOKafkaProducer

from dsrs.events.producer import MAX_BATCH_BYTES
from dsrs.events.record_batches import RecordBatches
from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options

# How long a paced publisher lets messages gather before handing them over, as a producer's linger would.
PACED_FLUSH_SECONDS = 0.01

Message = tuple[bytes, bytes, Sequence[tuple[str, bytes]]]


async def publish(
    settings: Settings,
    topic: str,
    messages: Iterable[Message],
    on_sent: Callable[[int], None] = lambda count: None,
    window: int = 1000,
    per_second: float | None = None,
) -> int:
    """Send every (key, value, headers) and wait for the broker's acknowledgement of each; returns how many.

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
    sent = 0
    try:
        # Inside the try: a producer that could not start still has its connections closed.
        await producer.start()
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

        for number, (key, value, headers) in enumerate(messages):
            if per_second:
                delay = started + number / per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await batches.add(topic, key, value, headers)
            waiting += 1
            if waiting >= window or (per_second and time.monotonic() - flushed >= PACED_FLUSH_SECONDS):
                await hand_over()
        await hand_over()
    finally:
        await producer.stop()
    return sent
