"""Kafka clients back off between attempts to reach a broker that refuses them, and start over once it answers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata

from dsrs.kafka.reconnect import ReconnectBackoff


def without_jitter(initial: float, maximum: float) -> ReconnectBackoff:
    return ReconnectBackoff(initial, maximum, uniform=lambda low, high: 1.0)


def test_no_wait_before_the_first_attempt() -> None:
    assert without_jitter(0.1, 1.0).delay_before_attempt("node-1") == 0.0


def test_each_failure_doubles_the_wait_up_to_the_maximum() -> None:
    backoff = without_jitter(0.1, 1.0)
    waits = []
    for _ in range(6):
        backoff.record("node-1", succeeded=False)
        waits.append(backoff.delay_before_attempt("node-1"))

    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_a_success_starts_over_for_that_broker_only() -> None:
    backoff = without_jitter(0.1, 1.0)
    for _ in range(3):
        backoff.record("node-1", succeeded=False)
        backoff.record("node-2", succeeded=False)
    backoff.record("node-1", succeeded=True)

    assert backoff.delay_before_attempt("node-1") == 0.0
    assert backoff.delay_before_attempt("node-2") == pytest.approx(0.4)


def test_jitter_stays_within_its_share_and_under_the_maximum() -> None:
    backoff = ReconnectBackoff(0.1, 1.0)
    for _ in range(2):
        backoff.record("node-1", succeeded=False)
    assert all(0.16 <= backoff.delay_before_attempt("node-1") <= 0.24 for _ in range(200))
    for _ in range(10):
        backoff.record("node-1", succeeded=False)
    assert all(backoff.delay_before_attempt("node-1") <= 1.0 for _ in range(200))


@pytest.fixture
async def client() -> AsyncIterator[tuple[AIOKafkaClient, int]]:
    """An aiokafka client that knows one broker, at a loopback port where nothing listens yet."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AIOKafkaClient(bootstrap_servers=f"127.0.0.1:{port}")
    client.cluster = ClusterMetadata(bootstrap_servers=[f"127.0.0.1:{port}"])
    yield client, port
    await client.close()


async def test_a_refusing_broker_is_tried_again_after_doubling_waits(
    reconnect_waits: list[float], client: tuple[AIOKafkaClient, int]
) -> None:
    kafka, _ = client
    for _ in range(5):
        assert await kafka._get_conn("bootstrap-0") is None

    assert len(reconnect_waits) == 4
    for wait, expected in zip(reconnect_waits, (0.1, 0.2, 0.4, 0.5), strict=True):
        assert expected * 0.8 <= wait <= min(expected * 1.2, 0.5)
