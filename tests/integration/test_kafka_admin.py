"""Topic housekeeping on the real broker: a throwaway deployment's topics go, and only they."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dsrs.kafka.admin import delete_deployment_topics, ensure_topics
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from tests.integration.conftest import broker_topics

pytestmark = pytest.mark.integration


async def _until(settings: Settings, condition: Callable[[set[str]], bool]) -> set[str]:
    """The broker's topic listing once it meets `condition` (creation and deletion reach it a little later)."""
    for _ in range(100):
        topics = await broker_topics(settings)
        if condition(topics):
            break
        await asyncio.sleep(0.2)
    return topics


async def test_a_deployments_topics_are_deleted_and_nobody_elses(stack: Stack, settings: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    deployment = settings.model_copy(update={"topic_prefix": f"{tag}.", "app_id": f"dsrs-{tag}"})
    await ensure_topics(deployment, partitions=1)
    changelog = f"dsrs-{tag}-analytics_totals-changelog"
    bystander = f"other-{tag}.registry.household.registered"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(changelog, 1, 1), NewTopic(bystander, 1, 1)])
    finally:
        await admin.close()
    await _until(settings, lambda topics: {changelog, bystander} <= topics)

    deleted = await delete_deployment_topics(deployment)

    assert changelog in deleted
    assert deployment.topic("registry.household.intake") in deleted
    assert all(name.startswith((f"{tag}.", f"dsrs-{tag}-")) for name in deleted)
    # Deletion completes in the background on the broker: wait until the listing agrees.
    remaining = await _until(settings, lambda topics: not topics & set(deleted))
    assert not remaining & set(deleted)
    assert bystander in remaining
    await delete_deployment_topics(
        settings.model_copy(update={"topic_prefix": f"other-{tag}.", "app_id": f"other-{tag}"})
    )


async def test_without_a_prefix_nothing_is_deleted(settings: Settings) -> None:
    with pytest.raises(ValueError, match="prefix"):
        await delete_deployment_topics(settings.model_copy(update={"topic_prefix": "", "app_id": "dsrs-x"}))


async def test_the_default_apps_topics_are_never_deleted(settings: Settings) -> None:
    with pytest.raises(ValueError, match="default deployment"):
        await delete_deployment_topics(settings.model_copy(update={"topic_prefix": "x.", "app_id": "dsrs"}))
