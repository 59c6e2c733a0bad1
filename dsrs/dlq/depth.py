"""How many messages wait in each dead-letter topic."""

from __future__ import annotations

from typing import Any

from dsrs.events.topics import DEAD_LETTER_TOPICS
from dsrs.kafka.lag import topic_depths


async def dead_letter_depths(bootstrap_servers: str, prefix: str = "", **client_options: Any) -> dict[str, int]:
    return await topic_depths(bootstrap_servers, [prefix + name for name in DEAD_LETTER_TOPICS], **client_options)
