"""The KPIs as the API reads them: from PostgreSQL, which holds every program and region's exact counts.

The worker's Faust tables hold only the partitions assigned to it, so with several workers each would
answer part of the totals; PostgreSQL answers the same to every worker, during a rebalance too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.analytics.summary import CurrentEligibility
from dsrs.db.schema import analytics_counters, analytics_windows
from dsrs.tables.analytics import Counts, WindowRow


async def totals_items(connection: AsyncConnection) -> list[tuple[str, Counts]]:
    """("program|region", counts) for every program and region counted so far."""
    rows = await connection.execute(select(analytics_counters).order_by(analytics_counters.c.program_id))
    totals: dict[str, Counts] = {}
    for row in rows:
        counts = totals.setdefault(f"{row.program_id}|{row.region}", {})
        counts[row.metric] = {"count": int(row._mapping["count"]), "amount": str(row.amount)}
    return list(totals.items())


async def window_rows(connection: AsyncConnection, granularity: str, since: datetime | None) -> list[WindowRow]:
    """The windows of one granularity from `since` on, each with its counts."""
    query = select(analytics_windows).where(analytics_windows.c.granularity == granularity)
    if since is not None:
        query = query.where(analytics_windows.c.window_start >= since)
    windows: dict[tuple[datetime, str, str], Counts] = {}
    for row in await connection.execute(query):
        counts = windows.setdefault((row.window_start, row.program_id, row.region), {})
        counts[row.metric] = {"count": int(row._mapping["count"]), "amount": str(row.amount)}
    return [
        WindowRow(granularity, start, program, region, counts) for (start, program, region), counts in windows.items()
    ]


# Each active household's newest decision per program, for the programs that decide now (not retired).
CURRENT_ELIGIBILITY = text(
    "SELECT c.program_id, h.region, count(*) AS decided, count(*) FILTER (WHERE c.decision = 'approved') AS eligible "
    "FROM current_decisions c JOIN households h ON h.id = c.household_id AND h.status = 'active' "
    "JOIN programs p ON p.program_id = c.program_id AND p.retired_at IS NULL "
    "GROUP BY c.program_id, h.region"
)


async def current_eligibility(connection: AsyncConnection) -> list[CurrentEligibility]:
    """Per program and region, the active households decided and those eligible now."""
    rows = await connection.execute(CURRENT_ELIGIBILITY)
    return [CurrentEligibility(row.program_id, row.region, int(row.decided), int(row.eligible)) for row in rows]
