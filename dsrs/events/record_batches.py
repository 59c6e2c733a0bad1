"""Many messages sent as one Kafka record batch per partition, with one delivery future per batch.

`AIOKafkaProducer.send` does, for every message, a metadata wait, a partition lookup that copies the
topic's partition set twice, and a delivery future of its own, which the relay would gather for every
message of a claim. Here each message is only hashed to its partition and appended to that partition's
open batch; a full batch is handed to the producer and a new one opened.

Partitions are chosen as the producer's default partitioner chooses them (murmur2 of the key over
all of the topic's partitions, as Kafka's Java client does), so a household's events land where
any other DSRS producer would put them, and stay in order: one partition's batches are handed over
in the order they were filled.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

# aiokafka's murmur2 is pure Python, and the relay hashes a household's key for each of its events
# (registered, two assessments, the payment), published close together: recent keys are worth keeping.
# Sized for the last few seconds' keys at full speed (docs/performance.md).
_key_hash = functools.lru_cache(maxsize=10_000)(murmur2)


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """As aiokafka's DefaultPartitioner (and Kafka's Java client) choose for a key, over all partitions."""
    digest: int = _key_hash(key)
    return partitions[(digest & 0x7FFFFFFF) % len(partitions)]


class RecordBatches:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._deliveries: list[asyncio.Future[Any]] = []

    async def add(self, topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> None:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await self.producer.partitions_for(topic))
        partition = partition_of(key, partitions)
        batch = self._open.get((topic, partition))
        if batch is None:
            batch = self._open[(topic, partition)] = self.producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is not None:
            return
        # Full: hand it over and start the next one; an empty batch takes a message of any size.
        await self._send(topic, partition, batch)
        batch = self._open[(topic, partition)] = self.producer.create_batch()
        batch.append(key=key, value=value, timestamp=None, headers=headers)

    async def delivered(self) -> None:
        """Hand over every open batch and wait until the broker has acknowledged them all."""
        for (topic, partition), batch in self._open.items():
            await self._send(topic, partition, batch)
        self._open.clear()
        deliveries, self._deliveries = self._deliveries, []
        await asyncio.gather(*deliveries)

    async def _send(self, topic: str, partition: int, batch: Any) -> None:
        batch.close()
        self._deliveries.append(await self.producer.send_batch(batch, topic, partition=partition))
