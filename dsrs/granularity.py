"""The KPI windows' granularities: the one table the database schema, the worker's Faust tables and the
windows code derive from. Each names how a time truncates to the start of its window and how long the
worker's tables keep such windows (PostgreSQL keeps them all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Granularity:
    name: str
    window_start: Callable[[datetime], datetime]
    retention: timedelta


GRANULARITY_TABLE = (
    Granularity("minute", lambda time: time.replace(second=0, microsecond=0), timedelta(hours=48)),
    Granularity("hour", lambda time: time.replace(minute=0, second=0, microsecond=0), timedelta(days=31)),
    Granularity("day", lambda time: time.replace(hour=0, minute=0, second=0, microsecond=0), timedelta(days=400)),
)
GRANULARITIES = tuple(granularity.name for granularity in GRANULARITY_TABLE)
RETENTION = {granularity.name: granularity.retention for granularity in GRANULARITY_TABLE}
