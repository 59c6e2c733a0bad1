"""Counts KPI events exactly once in PostgreSQL, then mirrors the new totals to the tables and rollups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.analytics.bundle import decode_bundle
from dsrs.analytics.facts import Fact
from dsrs.db.schema import analytics_counters, analytics_windows
from dsrs.events.incoming import Incoming
from dsrs.streams.processing import Decoded, claimed, event_id_of

Counts = dict[str, dict[str, Any]]
WINDOW_COLUMNS = ("granularity", "window_start", "program_id", "region", "metric", "count", "amount")


@dataclass
class Snapshot:
    """Current absolute values of everything one batch touched."""

    totals: dict[tuple[str, str], Counts] = field(default_factory=dict)
    windows: dict[tuple[str, str], dict[tuple[str, datetime], Counts]] = field(default_factory=dict)
    # For each (program, region), a consumed event that carried it: table writes happen in its context.
    origins: dict[tuple[str, str], object] = field(default_factory=dict)


class Mirror(Protocol):
    async def apply(self, snapshot: Snapshot) -> None: ...


def _sum_increments(
    facts: Sequence[Fact],
) -> tuple[dict[tuple[str, str, str], list[Any]], dict[tuple[Any, ...], list[Any]]]:
    totals: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    windows: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for fact in facts:
        for increment in fact.increments:
            total = totals[(fact.program_id, fact.region, increment.metric)]
            total[0] += increment.count
            total[1] += increment.amount
            for granularity, start in fact.windows:
                window = windows[(granularity, start, fact.program_id, fact.region, increment.metric)]
                window[0] += increment.count
                window[1] += increment.amount
    return totals, windows


def _adding(table: Table, key: tuple[str, ...]) -> Any:
    """An upsert that adds a row's count and amount to what the table holds."""
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={"count": table.c.count + statement.excluded.count, "amount": table.c.amount + statement.excluded.amount},
    )


ADD_TOTALS = _adding(analytics_counters, ("program_id", "region", "metric"))
ADD_WINDOWS = _adding(analytics_windows, ("granularity", "window_start", "program_id", "region", "metric"))
TOTAL_COLUMNS = ("program_id", "region", "metric", "count", "amount")


async def _add(connection: AsyncConnection, facts: Sequence[Fact]) -> None:
    totals, windows = _sum_increments(facts)
    # Sorted, so that concurrent workers lock rows in the same order and never deadlock.
    if totals:
        rows = [dict(zip(TOTAL_COLUMNS, (*key, *sums), strict=True)) for key, sums in sorted(totals.items())]
        await connection.execute(ADD_TOTALS, rows)
    if windows:
        rows = [dict(zip(WINDOW_COLUMNS, (*key, *sums), strict=True)) for key, sums in sorted(windows.items())]
        await connection.execute(ADD_WINDOWS, rows)


TOTALS_OF = select(analytics_counters).where(
    tuple_(analytics_counters.c.program_id, analytics_counters.c.region).in_(bindparam("keys", expanding=True))
)
WINDOWS_OF = select(analytics_windows).where(
    tuple_(
        analytics_windows.c.granularity,
        analytics_windows.c.window_start,
        analytics_windows.c.program_id,
        analytics_windows.c.region,
    ).in_(bindparam("keys", expanding=True))
)


async def _snapshot(connection: AsyncConnection, facts: Sequence[Fact]) -> Snapshot:
    keys = sorted({(f.program_id, f.region) for f in facts})
    windows = sorted({(g, start, f.program_id, f.region) for f in facts for g, start in f.windows})
    snapshot = Snapshot()
    # Tuple IN with expanding parameters: one cached statement, whatever the batch holds.
    total_rows = await connection.execute(TOTALS_OF, {"keys": keys})
    for row in total_rows:
        counts = snapshot.totals.setdefault((row.program_id, row.region), {})
        counts[row.metric] = {"count": int(row._mapping["count"]), "amount": str(row.amount)}
    window_rows = await connection.execute(WINDOWS_OF, {"keys": windows})
    for row in window_rows:
        by_window = snapshot.windows.setdefault((row.program_id, row.region), {})
        counts = by_window.setdefault((row.granularity, row.window_start), {})
        counts[row.metric] = {"count": int(row._mapping["count"]), "amount": str(row.amount)}
    return snapshot


class AnalyticsCounter:
    consumer = "analytics"

    def __init__(self, engine: AsyncEngine, mirror: Mirror) -> None:
        self.engine = engine
        self.mirror = mirror

    def decode(self, message: Incoming) -> list[Fact]:
        return decode_bundle(message.value)

    async def handle(self, batch: Sequence[Decoded[list[Fact]]]) -> None:
        facts = [fact for decoded in batch for fact in decoded.item]
        async with claimed(self.engine, self.consumer, facts, event_id_of) as (connection, fresh):
            await _add(connection, fresh)
            snapshot = await _snapshot(connection, facts)
        snapshot.origins = {(f.program_id, f.region): d.message.origin for d in batch for f in d.item}
        # After the commit: the mirrors take absolute values, so repeating this after a failure is harmless.
        await self.mirror.apply(snapshot)
