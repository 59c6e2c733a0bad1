"""The Kafka producer DSRS's processes publish with: every acknowledgement from all replicas, no duplicates
from the producer's own retries."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options

# The most one partition's batch of records holds. aiokafka's default, 16 KiB, is about fifteen ~1 KB
# saga events: the relay publishing 500 at once sent dozens of small batches, each a record batch for
# the broker to validate and append and for the worker to unpack. With 256 KiB (under the broker's
# 1 MiB message.max.bytes), 40,000-household A/B runs gave 2,048 and 2,074 households/s against 1,851
# and 1,968, with the relay at 85 against 102-108 us of CPU a household and Kafka at 80-115 against 102-110.
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
