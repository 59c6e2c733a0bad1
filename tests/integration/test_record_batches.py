"""Record batches on the real broker: every message delivered, in order per key, on the partition
the producer's own `send` would have chosen, across batches that fill up."""

from __future__ import annotations

from collections import defaultdict

import pytest
from aiokafka import AIOKafkaProducer

from dsrs.events.record_batches import RecordBatches
from dsrs.settings import Settings
from tests.integration.records import read_records

pytestmark = pytest.mark.integration

KEYS = [f"household-{n}".encode() for n in range(6)]
# 1 KiB each: a key's messages fill several of the producer's 16 KiB batches.
EACH_KEY = 50
VALUE_PADDING = b"x" * 1000


async def test_batches_deliver_each_message_in_key_order_where_send_would_put_it(
    settings: Settings, topic: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        batches = RecordBatches(producer)
        for sequence in range(EACH_KEY):
            for key in KEYS:
                await batches.add(topic, key, str(sequence).encode() + b":" + VALUE_PADDING, [("n", b"1")])
        await batches.delivered()
        # One more message per key through the producer's own partitioner.
        by_send = {key: (await (await producer.send(topic, b"send", key=key))).partition for key in KEYS}
    finally:
        await producer.stop()

    sequences: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for record in await read_records(settings, topic, len(KEYS) * (EACH_KEY + 1)):
        assert record.key is not None
        assert record.value is not None
        partitions[record.key].add(record.partition)
        if record.value != b"send":
            sequences[record.key].append(int(record.value.split(b":")[0]))
            assert record.headers == (("n", b"1"),)
    assert {key: sequences[key] for key in KEYS} == {key: list(range(EACH_KEY)) for key in KEYS}
    assert {key: partitions[key] for key in KEYS} == {key: {by_send[key]} for key in KEYS}
    assert len(set(by_send.values())) > 1, "the keys spread over partitions"
