"""Creates the saga's topics with the configured partition count, before anything produces to them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dsrs.events.topics import DEAD_LETTER_TOPICS, SAGA_TOPICS
from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options


async def ensure_topics(settings: Settings, partitions: int, names: Iterable[str] = ()) -> None:
    wanted = list(dict.fromkeys([settings.topic(name) for name in (*SAGA_TOPICS, *DEAD_LETTER_TOPICS)] + list(names)))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kafka_client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, 1) for name in wanted if name not in existing]
        if missing:
            # Another worker may have created them first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()
