"""Creates the saga's topics with the configured partition count, before anything produces to them;
deletes a throwaway deployment's topics when it is done with them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dsrs.events.topics import DEAD_LETTER_TOPICS, SAGA_TOPICS
from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options

DEFAULT_APP_ID = Settings.model_fields["app_id"].default


@contextlib.asynccontextmanager
async def _admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kafka_client_options(settings))
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync_replicas: int


def replication_for(settings: Settings, brokers: int) -> Replication:
    """As the settings say; by default three copies (or as many as there are brokers), two of them in sync."""
    factor = settings.topic_replication_factor or min(3, brokers)
    min_insync = settings.topic_min_insync_replicas or max(1, factor - 1)
    return Replication(factor, min(min_insync, factor))


async def ensure_topics(
    settings: Settings, partitions: int, names: Iterable[str] = (), compacted: Iterable[str] = ()
) -> None:
    """Every topic the deployment reads or writes, before any agent reads: the saga's and their dead-letter
    twins, `names`, and `compacted` (the Faust tables' changelogs, which keep each key's latest value)."""
    dead_letter_partitions = settings.dead_letter_partitions or partitions
    wanted: dict[str, tuple[int, dict[str, str]]] = {settings.topic(name): (partitions, {}) for name in SAGA_TOPICS}
    wanted |= {settings.topic(name): (dead_letter_partitions, {}) for name in DEAD_LETTER_TOPICS}
    wanted |= {name: (partitions, {}) for name in names}
    wanted |= {name: (partitions, {"cleanup.policy": "compact"}) for name in compacted}
    async with _admin(settings) as admin:
        existing = set(await admin.list_topics())
        replication = replication_for(settings, len((await admin.describe_cluster())["brokers"]))
        missing = [
            NewTopic(
                name,
                count,
                replication.factor,
                topic_configs={"min.insync.replicas": str(replication.min_insync_replicas), **configs},
            )
            for name, (count, configs) in wanted.items()
            if name not in existing
        ]
        if missing:
            # Another worker may have created them first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)


async def delete_deployment_topics(settings: Settings) -> list[str]:
    """Delete the topics of a deployment with a topic prefix of its own (a benchmark's, a test's): its saga
    topics and its Faust app's own (table changelogs, assignor). Returns the names deleted.

    A broker keeps every partition's files and metadata: left behind, deployments pile up until a local
    broker runs out of heap."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a topic prefix: they would be everyone's")
    if settings.app_id == DEFAULT_APP_ID:
        # Its changelogs are the default deployment's: deleting them empties the demo's tables, and its
        # worker then refuses to start (its local state is ahead of the changelogs).
        raise ValueError(f"refusing to delete the topics of app {DEFAULT_APP_ID!r}: they are the default deployment's")
    async with _admin(settings) as admin:
        owned = (settings.topic_prefix, f"{settings.app_id}-")
        names = sorted(name for name in await admin.list_topics() if name.startswith(owned))
        if names:
            await admin.delete_topics(names)
        return names
