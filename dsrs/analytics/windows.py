"""Tumbling windows: the minute, hour and day an event falls in."""

from __future__ import annotations

from datetime import UTC, datetime

GRANULARITIES = ("minute", "hour", "day")


def window_start(granularity: str, time: datetime) -> datetime:
    time = time.astimezone(UTC)
    if granularity == "minute":
        return time.replace(second=0, microsecond=0)
    if granularity == "hour":
        return time.replace(minute=0, second=0, microsecond=0)
    if granularity == "day":
        return time.replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"unknown granularity {granularity!r}")
