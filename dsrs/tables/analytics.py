"""The KPI tables: running totals and tumbling windows, per program and region.

Totals are keyed by "program|region", the key of the analytics topic, and windows by
"program|region|granularity|start". Both are written in the context of an event that carried that
program and region, so each key's table partition is always the partition its events arrive on.
Values are absolute counts copied from PostgreSQL, where they are counted exactly once, so writing
a value again after a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust

from dsrs.granularity import RETENTION

Counts = dict[str, dict[str, Any]]  # metric -> {"count": int, "amount": str}

# Faust opens one RocksDB per table partition with 64 MiB write buffers (three of them) and a 2 GiB
# block cache: a worker's memory would climb with every write until those fill. These tables hold a
# few thousand small keys, so small buffers and caches keep the worker's memory flat at no cost.
ROCKSDB_OPTIONS = {"write_buffer_size": 2 << 20, "max_write_buffer_number": 2, "block_cache_size": 4 << 20}


@dataclass(frozen=True)
class WindowRow:
    granularity: str
    window_start: datetime
    program_id: str
    region: str
    counts: Counts


class AnalyticsTables:
    def __init__(self, app: faust.App, partitions: int) -> None:
        options: dict[str, Any] = {
            "default": dict,
            "partitions": partitions,
            "key_type": str,
            "options": dict(ROCKSDB_OPTIONS),
        }
        self.totals = app.Table("analytics-totals", help="KPI totals per program|region", **options)
        self.windows = app.Table("analytics-windows", help="KPI windows per program|region", **options)

    def changelog_topics(self) -> list[str]:
        """The tables' changelog topics: created with the saga's, before any agent writes to a table."""
        return [table.changelog_topic.get_topic_name() for table in (self.totals, self.windows)]

    def set_totals(self, key: str, counts: Counts) -> None:
        self.totals[key] = counts

    def set_windows(self, key: str, windows: Mapping[str, Counts], now: datetime | None = None) -> None:
        """Set each window ("granularity|iso start" -> counts) of a program|region; one table key per window,
        so a write costs the same whatever the table holds. Windows past their retention are not kept."""
        now = now or datetime.now(UTC)
        for window, counts in windows.items():
            if now - _window_start(window) <= RETENTION[window.split("|", 1)[0]]:
                self.windows[f"{key}|{window}"] = counts

    def totals_items(self) -> Iterator[tuple[str, Counts]]:
        for key, counts in self.totals.items():
            yield _text(key), counts

    def window_rows(self) -> Iterator[WindowRow]:
        for key, counts in self.windows.items():
            program_id, region, granularity, start = _text(key).split("|", 3)
            yield WindowRow(granularity, datetime.fromisoformat(start), program_id, region, counts)


def _text(key: object) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def window_key(granularity: str, start: datetime) -> str:
    return f"{granularity}|{start.isoformat()}"


def _window_start(window: str) -> datetime:
    return datetime.fromisoformat(window.split("|", 1)[1])
