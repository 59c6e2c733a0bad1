"""The Kafka producer DSRS's processes publish with: every acknowledgement from all replicas, no duplicates
from the producer's own retries."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options


def saga_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        # A few milliseconds of latency, for batches of many messages when several sends come at once.
        linger_ms=5,
        **kafka_client_options(settings),
    )
