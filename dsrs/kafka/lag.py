"""Offsets seen from outside a consumer: group lag, topic depth, and rewinding a stopped group.

`client_options` are every aiokafka client's security settings (dsrs.transport_security.kafka_client_options):
without them, each client here would speak plaintext to a broker that wants TLS or SASL, and the lag and
dead-letter gauges, and `dsrs dlq`, would fail on exactly the deployments that secure their broker."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import NodeNotReadyError

ATTEMPTS = 5


async def topic_partitions(
    bootstrap_servers: str, topics: Iterable[str], **client_options: Any
) -> list[TopicPartition]:
    """The partitions of those topics that exist (a consumer only knows the topics it subscribed to)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options)
    await admin.start()
    try:
        # The admin client asks a broker picked at random; one that is down is not the cluster's answer.
        for attempt in range(1, ATTEMPTS + 1):
            try:
                described = await admin.describe_topics(list(topics))
                break
            except NodeNotReadyError:
                if attempt == ATTEMPTS:
                    raise
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic["error_code"] == 0
        for partition in sorted(topic["partitions"], key=lambda p: int(p["partition"]))
    ]


async def _offsets(
    bootstrap_servers: str, partitions: list[TopicPartition], client_options: dict[str, Any]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **client_options)
    await consumer.start()
    try:
        return await consumer.beginning_offsets(partitions), await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def topic_depths(bootstrap_servers: str, topics: Iterable[str], **client_options: Any) -> dict[str, int]:
    """Messages held per topic (end minus beginning offsets)."""
    partitions = await topic_partitions(bootstrap_servers, topics, **client_options)
    if not partitions:
        return {}
    starts, ends = await _offsets(bootstrap_servers, partitions, client_options)
    depths: dict[str, int] = {}
    for tp in partitions:
        depths[tp.topic] = depths.get(tp.topic, 0) + ends[tp] - starts[tp]
    return depths


async def consumer_lag(
    bootstrap_servers: str, group_id: str, topics: Iterable[str], **client_options: Any
) -> dict[TopicPartition, int]:
    """Per partition: end offset minus committed offset (the whole partition when nothing is committed)."""
    partitions = await topic_partitions(bootstrap_servers, topics, **client_options)
    if not partitions:
        return {}
    starts, ends = await _offsets(bootstrap_servers, partitions, client_options)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
    finally:
        await admin.close()
    lag = {}
    for tp in partitions:
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else starts[tp]
        lag[tp] = max(0, ends[tp] - position)
    return lag


async def rewind_group(bootstrap_servers: str, group_id: str, topics: Iterable[str], **client_options: Any) -> None:
    """Commit the beginning of each topic for the group, so its next member re-reads everything.

    Only while the group has no members: a running worker would overwrite these commits.
    """
    partitions = await topic_partitions(bootstrap_servers, topics, **client_options)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False, **client_options
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        await consumer.commit(dict(starts))
    finally:
        await consumer.stop()
