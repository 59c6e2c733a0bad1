"""Publishes households onto the intake topic the way a partner system would (demo, tests, benchmark)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaProducer

from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.synthetic import IntakeMessage


async def publish_intake(
    bootstrap_servers: str,
    messages: Iterable[IntakeMessage],
    on_sent: Callable[[int], None] = lambda count: None,
    window: int = 1000,
    topic: str = HOUSEHOLD_INTAKE,
    per_second: float | None = None,
) -> int:
    """Send every message and wait for the broker's acknowledgement of each; returns how many were sent.

    With `per_second`, messages are paced to that offered load instead of sent as fast as possible.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=10)
    await producer.start()
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        started = time.monotonic()
        for number, message in enumerate(messages):
            if per_second:
                delay = started + number / per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(await producer.send(topic, message.value, key=message.key, headers=message.headers))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                sent += len(pending)
                on_sent(len(pending))
                pending = []
        await asyncio.gather(*pending)
        sent += len(pending)
        on_sent(len(pending))
    finally:
        await producer.stop()
    return sent
