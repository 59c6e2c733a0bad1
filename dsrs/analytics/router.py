"""Re-keys KPI events by program and region, so one partition owns every count of a program and region.

Forwarding twice after a redelivery is harmless: the counter deduplicates by event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from dsrs.analytics.facts import Fact, decode_fact
from dsrs.events.incoming import Incoming
from dsrs.streams.processing import Decoded


class AnalyticsRouter:
    consumer = "analytics-router"

    def __init__(self, producer: AIOKafkaProducer, target_topic: str) -> None:
        self.producer = producer
        self.target_topic = target_topic

    def decode(self, message: Incoming) -> Fact:
        return decode_fact(message)

    async def handle(self, batch: Sequence[Decoded[Fact]]) -> None:
        deliveries = [
            await self.producer.send(
                self.target_topic,
                decoded.message.value,
                key=decoded.item.partition_key.encode(),
                headers=list(decoded.message.headers.items()),
            )
            for decoded in batch
        ]
        await asyncio.gather(*deliveries)
