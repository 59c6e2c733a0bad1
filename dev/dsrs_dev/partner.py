"""Publishes households onto the intake topic the way a partner system would (demo, tests, benchmark).

The benchmark publishes on the saga's own cores, so what the publisher and the broker spend is taken
from the saga (docs/performance.md); dsrs.events.publishing says how it keeps that small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dsrs.events.publishing import publish
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.settings import Settings
from dsrs_dev.synthetic import IntakeMessage


async def publish_intake(
    settings: Settings,
    messages: Iterable[IntakeMessage],
    on_sent: Callable[[int], None] = lambda count: None,
    window: int = 1000,
    topic: str = HOUSEHOLD_INTAKE,
    per_second: float | None = None,
) -> int:
    """`publish` for synthetic intake messages, each keyed by its household; returns how many were sent."""
    records = ((message.key, message.value, message.headers) for message in messages)
    return await publish(settings, topic, records, on_sent, window, per_second)
