"""Tumbling windows: the window of each granularity (dsrs.granularity) that an event falls in."""

from __future__ import annotations

from datetime import UTC, datetime

from dsrs.granularity import GRANULARITIES, GRANULARITY_TABLE

__all__ = ["GRANULARITIES", "windows_of"]


def windows_of(time: datetime) -> tuple[tuple[str, datetime], ...]:
    """Each granularity, in GRANULARITIES' order, with the start of its window holding `time`."""
    time = time.astimezone(UTC)
    return tuple((granularity.name, granularity.window_start(time)) for granularity in GRANULARITY_TABLE)
