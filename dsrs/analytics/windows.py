"""Tumbling windows: the minute, hour and day an event falls in."""

from __future__ import annotations

from datetime import UTC, datetime

GRANULARITIES = ("minute", "hour", "day")


def windows_of(time: datetime) -> tuple[tuple[str, datetime], ...]:
    """Each granularity, in GRANULARITIES' order, with the start of its window holding `time`."""
    time = time.astimezone(UTC)
    minute = time.replace(second=0, microsecond=0)
    return (("minute", minute), ("hour", minute.replace(minute=0)), ("day", minute.replace(hour=0, minute=0)))
