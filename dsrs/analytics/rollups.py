"""KPI rollups in the MongoDB-protocol store, for dashboards and other readers outside the worker.

Only upserts with `$set` of absolute values: every MongoDB-protocol server supports them (FerretDB
included), and setting a value twice is harmless where incrementing it twice would not be. That
also lets the rollups coalesce: a batch's values wait in `pending`, newer ones replace older ones,
and `flush` writes each key once. Under load that is one write per key and flush instead of one per
key and batch, which spares the store (FerretDB, and the PostgreSQL behind it) most of its work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from dsrs.analytics.counter import Counts, Snapshot

TOTALS = "kpi_totals"
WINDOWS = "kpi_windows"

TotalKey = tuple[str, str]
WindowKey = tuple[str, datetime, str, str]


class MongoRollups:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.database = client[database]
        self._totals: dict[TotalKey, Counts] = {}
        self._windows: dict[WindowKey, Counts] = {}

    @property
    def pending(self) -> int:
        return len(self._totals) + len(self._windows)

    def apply(self, snapshot: Snapshot) -> None:
        """Take a committed batch's values; they are written by the next `flush`."""
        self._totals.update(snapshot.totals)
        for (program_id, region), by_window in snapshot.windows.items():
            for (granularity, start), counts in by_window.items():
                self._windows[(granularity, start, program_id, region)] = counts

    async def flush(self) -> int:
        """Write what is pending; on failure it stays pending (unless newer values replaced it)."""
        totals, self._totals = self._totals, {}
        windows, self._windows = self._windows, {}
        try:
            await self._write(totals, windows)
        except BaseException:
            self._totals = {**totals, **self._totals}
            self._windows = {**windows, **self._windows}
            raise
        return len(totals) + len(windows)

    async def _write(self, totals: dict[TotalKey, Counts], windows: dict[WindowKey, Counts]) -> None:
        now = datetime.now(UTC)
        if totals:
            await self.database[TOTALS].bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{program_id}|{region}"},
                        {"$set": {"program_id": program_id, "region": region, "metrics": counts, "updated_at": now}},
                        upsert=True,
                    )
                    for (program_id, region), counts in sorted(totals.items())
                ],
                ordered=False,
            )
        if windows:
            await self.database[WINDOWS].bulk_write(
                [
                    UpdateOne(
                        {"_id": f"{granularity}|{start.isoformat()}|{program_id}|{region}"},
                        {
                            "$set": {
                                "granularity": granularity,
                                "window_start": start,
                                "program_id": program_id,
                                "region": region,
                                "metrics": counts,
                                "updated_at": now,
                            }
                        },
                        upsert=True,
                    )
                    for (granularity, start, program_id, region), counts in sorted(windows.items())
                ],
                ordered=False,
            )
