"""The Kafka producer DSRS's processes publish with: every acknowledgement from all replicas, no duplicates
from the producer's own retries."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options

# The most one partition's batch of records holds. aiokafka's default, 16 KiB, holds few saga events, so a
# claim would go out as many small record batches, each for the broker to validate and append and for the
# worker to unpack; this stays under the broker's 1 MiB message.max.bytes (docs/performance.md).
MAX_BATCH_BYTES = 256 * 1024


def saga_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        # A few milliseconds of latency, for batches of many messages when several sends come at once.
        linger_ms=5,
        max_batch_size=MAX_BATCH_BYTES,
        **kafka_client_options(settings),
    )
