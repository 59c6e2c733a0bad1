"""The benchmark's Kafka limit produces what the saga produced per household and reads back what it consumed."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dsrs.events.topics import HOUSEHOLD_INTAKE, PAYMENT_SCHEDULED
from dsrs.kafka.admin import ensure_topics
from dsrs.kafka.lag import topic_depths
from dsrs.settings import Settings
from dsrs_dev.bench.environment import delete_topics_of
from dsrs_dev.bench.kafka_limit import deployment_depths, kafka_limit, sample_messages
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake

pytestmark = pytest.mark.integration


async def _measure(settings: Settings) -> tuple[dict[str, int], int, int, int, str]:
    intake, scheduled = settings.topic(HOUSEHOLD_INTAKE), settings.topic(PAYMENT_SCHEDULED)
    await ensure_topics(settings, settings.topic_partitions)
    messages = list(synthetic_intake(50, settings.regions, seed=4, update_share=0, invalid_share=0))
    await publish_intake(settings, messages, topic=intake)
    await publish_intake(settings, messages[:10], topic=scheduled)
    samples = await sample_messages(settings, [intake, scheduled])
    # A household: one intake message, consumed, and half a payment scheduled, only produced.
    limit = await kafka_limit(settings, {intake: 1.0, scheduled: 0.5}, [intake], samples, 200)
    copied = await topic_depths(settings.bootstrap_servers, [limit.intake_topic])
    return await deployment_depths(settings), limit.produced, limit.consumed, copied[limit.intake_topic], intake


def test_the_kafka_limit_produces_each_topics_share_and_consumes_the_consumed_ones(
    stack: Stack, settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:8]
    deployment = settings.model_copy(update={"topic_prefix": f"test-kafka-limit-{tag}.", "app_id": f"dsrs-{tag}"})
    try:
        depths, produced, consumed, copied, intake = asyncio.run(_measure(deployment))
    finally:
        delete_topics_of(deployment)

    assert produced == 300
    assert consumed == 200
    assert copied == 200
    # The limit's copies are not counted as the deployment's own messages.
    assert depths[intake] == 50
    assert sum(depths.values()) == 60
