"""Copies a batch's new KPI values into the worker's tables, and hands them to the Mongo rollups."""

from __future__ import annotations

from dsrs.analytics.counter import Snapshot
from dsrs.analytics.facts import partition_key
from dsrs.analytics.rollups import MongoRollups
from dsrs.tables.analytics import AnalyticsTables, window_key
from dsrs.tables.context import event_context


class KpiMirror:
    def __init__(self, tables: AnalyticsTables, rollups: MongoRollups) -> None:
        self.tables = tables
        self.rollups = rollups

    async def apply(self, snapshot: Snapshot) -> None:
        for (program_id, region), counts in snapshot.totals.items():
            with event_context(snapshot.origins.get((program_id, region))):
                self.tables.set_totals(partition_key(program_id, region), counts)
        for (program_id, region), by_window in snapshot.windows.items():
            windows = {window_key(granularity, start): counts for (granularity, start), counts in by_window.items()}
            with event_context(snapshot.origins.get((program_id, region))):
                self.tables.set_windows(partition_key(program_id, region), windows)
        # The tables are written within the batch, in its events' partitions; the rollups coalesce and
        # are flushed by the runtime.
        self.rollups.apply(snapshot)
