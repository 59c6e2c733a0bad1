"""With a real broker: a client that backed off reconnects without a wait once the broker answers again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata

from dsrs.settings import Settings
from dsrs_dev.bench.environment import free_port
from dsrs_dev.stack.manager import Stack


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[AIOKafkaClient]:
    """A client whose only broker, for now, is a loopback port where nothing listens."""
    address = f"127.0.0.1:{free_port()}"
    client = AIOKafkaClient(bootstrap_servers=address)
    client.cluster = ClusterMetadata(bootstrap_servers=[address])
    yield client
    await client.close()


def broker_back(client: AIOKafkaClient, settings: Settings) -> None:
    """The same node id now leads to the real broker, as when a stopped broker starts again."""
    client.cluster = ClusterMetadata(bootstrap_servers=[settings.bootstrap_servers.split(",")[0]])


async def test_once_the_broker_answers_the_next_outage_starts_from_the_shortest_wait(
    reconnect_waits: list[float], client: AIOKafkaClient, settings: Settings
) -> None:
    for _ in range(4):
        assert await client._get_conn("bootstrap-0") is None
    assert len(reconnect_waits) == 3
    broker_back(client, settings)
    assert await client._get_conn("bootstrap-0") is not None
    reconnect_waits.clear()

    await client.close()
    client.cluster = ClusterMetadata(bootstrap_servers=[f"127.0.0.1:{free_port()}"])
    for _ in range(2):
        assert await client._get_conn("bootstrap-0") is None

    assert len(reconnect_waits) == 1
    assert reconnect_waits[0] <= 0.12


async def test_a_connected_broker_is_reached_without_waiting(
    reconnect_waits: list[float], client: AIOKafkaClient, settings: Settings
) -> None:
    broker_back(client, settings)
    first = await client._get_conn("bootstrap-0")
    second = await client._get_conn("bootstrap-0")

    assert first is not None
    assert second is first
    assert reconnect_waits == []
