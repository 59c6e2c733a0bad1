"""Reading back what a test published: the first records of a topic, from its start."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from dsrs.settings import Settings


async def read_records(settings: Settings, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `count` records of `topic`; fails when 10 s pass with none arriving before that."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    received: list[ConsumerRecord[bytes, bytes]] = []
    try:
        while len(received) < count:
            fetched = await consumer.getmany(timeout_ms=10_000)
            assert fetched, f"only {len(received)} of {count} records arrived"
            for records in fetched.values():
                received.extend(records)
    finally:
        await consumer.stop()
    return received
