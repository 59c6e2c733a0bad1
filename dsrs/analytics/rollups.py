"""KPI rollups in the MongoDB-protocol store, for dashboards and other readers outside the worker.

Only upserts with `$set` of absolute values: every MongoDB-protocol server supports them (FerretDB
included), and setting a value twice is harmless where incrementing it twice would not be.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from dsrs.analytics.counter import Snapshot

TOTALS = "kpi_totals"
WINDOWS = "kpi_windows"


class MongoRollups:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self.database = client[database]

    async def apply(self, snapshot: Snapshot) -> None:
        now = datetime.now(UTC)
        totals = [
            UpdateOne(
                {"_id": f"{program_id}|{region}"},
                {"$set": {"program_id": program_id, "region": region, "metrics": counts, "updated_at": now}},
                upsert=True,
            )
            for (program_id, region), counts in sorted(snapshot.totals.items())
        ]
        windows = [
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
            for (program_id, region), by_window in sorted(snapshot.windows.items())
            for (granularity, start), counts in sorted(by_window.items())
        ]
        if totals:
            await self.database[TOTALS].bulk_write(totals, ordered=False)
        if windows:
            await self.database[WINDOWS].bulk_write(windows, ordered=False)
