"""The do-nothing agent of the dispatch benchmark, on the real broker: a waiting backlog comes in full batches."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from dsrs.settings import Settings
from dsrs.worker.agents import BATCH_SIZE
from dsrs_dev.bench.saga import faust_dispatch_limit
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake
from tests.integration.conftest import broker_topics

pytestmark = pytest.mark.integration


def test_a_waiting_backlog_is_taken_in_full_batches(stack: Stack, settings: Settings, tmp_path: Path) -> None:
    # Two full batches and a rest, all on the broker before the agent starts.
    count = 2 * BATCH_SIZE + 200
    topic = settings.topic(f"test.dispatch.{uuid.uuid4().hex[:6]}")
    messages = list(synthetic_intake(count, settings.regions, seed=5, update_share=0, invalid_share=0))
    asyncio.run(publish_intake(settings, messages, topic=topic))

    before = asyncio.run(broker_topics(settings, "dsrs-dispatch-"))
    figures = faust_dispatch_limit(settings, topic, count, tmp_path)

    # The benchmark's Faust app leaves none of its own topics on the broker.
    assert asyncio.run(broker_topics(settings, "dsrs-dispatch-")) == before

    assert sum(figures["batch_sizes"]) == count
    # A batch does not stop filling at its window while its partitions hold more.
    assert figures["batch_sizes"][:2] == [BATCH_SIZE, BATCH_SIZE]
    assert figures["messages_per_second"] > 0
