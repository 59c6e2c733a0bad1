"""A produce / consume round trip through the real broker, with the client the worker uses."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from tests.integration.records import read_records

pytestmark = pytest.mark.integration


async def test_messages_come_back_in_order_with_their_headers(stack: Stack, settings: Settings) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex}"
    sent = [(f"household-{i % 3}".encode(), f"event-{i}".encode()) for i in range(50)]
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key, headers=[("traceparent", b"00-abc-def-01")])
    finally:
        await producer.stop()

    received = await read_records(settings, topic, len(sent))

    assert sorted((r.key, r.value) for r in received) == sorted(sent)
    assert all(dict(r.headers)["traceparent"] == b"00-abc-def-01" for r in received)
    # Kafka keeps order per key: each household's events come back in the order they were sent.
    for key in {key for key, _ in sent}:
        assert [r.value for r in received if r.key == key] == [v for k, v in sent if k == key]
