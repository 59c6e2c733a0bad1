"""Fixtures for unit and integration tests alike."""

from __future__ import annotations

import pytest
from aiokafka.client import AIOKafkaClient

from dsrs.kafka import reconnect


@pytest.fixture
def reconnect_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff installed on aiokafka for this test only, its waits recorded instead of slept."""
    recorded: list[float] = []

    async def record(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(reconnect, "sleep", record)
    monkeypatch.setattr(AIOKafkaClient, "_get_conn", reconnect.CONNECT_WITHOUT_BACKOFF)
    reconnect.install_reconnect_backoff(0.1, 0.5)
    return recorded
