"""Every Kafka client the lag and depth readings create speaks to the broker as the deployment says."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata

from dsrs.kafka import lag as kafka_lag

SECURED = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "dsrs"}
PARTITION = TopicPartition("dsrs.topic", 0)


class Recorded:
    def __init__(self) -> None:
        self.clients: list[dict[str, Any]] = []


class FakeAdmin:
    def __init__(self, recorded: Recorded, **options: Any) -> None:
        recorded.clients.append(options)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [{"topic": topic, "error_code": 0, "partitions": [{"partition": 0}]} for topic in topics]

    async def list_consumer_group_offsets(
        self, group_id: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        return {tp: OffsetAndMetadata(3, "") for tp in partitions}


class FakeConsumer:
    def __init__(self, recorded: Recorded, **options: Any) -> None:
        recorded.clients.append(options)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 0 for tp in partitions}

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: 10 for tp in partitions}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        pass


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    recorded = Recorded()
    monkeypatch.setattr(kafka_lag, "AIOKafkaAdminClient", lambda **options: FakeAdmin(recorded, **options))
    monkeypatch.setattr(kafka_lag, "AIOKafkaConsumer", lambda *topics, **options: FakeConsumer(recorded, **options))
    return recorded


def _all_secured(recorded: Recorded) -> bool:
    return bool(recorded.clients) and all(
        {name: client.get(name) for name in SECURED} == SECURED for client in recorded.clients
    )


async def test_consumer_lag_reads_through_secured_clients(recorded: Recorded) -> None:
    lag = await kafka_lag.consumer_lag("broker:9093", "dsrs", ["dsrs.topic"], **SECURED)
    assert lag == {PARTITION: 7}
    assert len(recorded.clients) == 3
    assert _all_secured(recorded)


async def test_topic_depths_read_through_secured_clients(recorded: Recorded) -> None:
    assert await kafka_lag.topic_depths("broker:9093", ["dsrs.topic"], **SECURED) == {"dsrs.topic": 10}
    assert _all_secured(recorded)


async def test_rewinding_a_group_goes_through_secured_clients(recorded: Recorded) -> None:
    await kafka_lag.rewind_group("broker:9093", "dsrs", ["dsrs.topic"], **SECURED)
    assert _all_secured(recorded)
