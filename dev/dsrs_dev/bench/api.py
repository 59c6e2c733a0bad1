"""`dsrs bench api`: the registry API's latency with a large registry (a million households by default).

The households are written straight into PostgreSQL with one INSERT ... SELECT over generate_series:
the point is the API's reads at that size, not the saga's writes (`dsrs bench saga` measures those).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs_dev.bench.saga import percentile

FILL = text(
    """
    INSERT INTO households (id, head_of_household_name, region, household_size, monthly_income,
                            children_under_5, children_5_to_17, dwelling_rooms, has_electricity)
    SELECT gen_random_uuid(), 'Bench household ' || n, 'R0' || (1 + n % 9), 3 + n % 6, (n % 400) + 0.5,
           n % 2, n % 3, 1 + n % 4, n % 2 = 0
    FROM generate_series(1, :count) AS n
    """
)


@dataclass
class ApiLatency:
    households: int
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


async def fill(engine: AsyncEngine, count: int, chunk: int = 200_000) -> float:
    started = time.perf_counter()
    for done in range(0, count, chunk):
        async with engine.begin() as connection:
            await connection.execute(FILL, {"count": min(chunk, count - done)})
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE households"))
    return time.perf_counter() - started


async def sample_ids(engine: AsyncEngine, count: int) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id FROM households TABLESAMPLE SYSTEM (1) LIMIT :count"), {"count": count}
        )
        return [str(row.id) for row in rows]


async def _timed(
    client: httpx.AsyncClient, url: str, params: dict[str, str] | None = None
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = await client.get(url, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return elapsed, body


async def lookups(client: httpx.AsyncClient, ids: list[str], households: int) -> ApiLatency:
    latencies = [(await _timed(client, f"/api/v1/households/{household}"))[0] for household in ids]
    return _summary(households, latencies)


async def pages(client: httpx.AsyncClient, requests: int, households: int, rng: random.Random) -> ApiLatency:
    """Keyset pagination, walking forward from random starting points, with and without a region filter."""
    latencies: list[float] = []
    after: str | None = None
    while len(latencies) < requests:
        params = {"limit": "50"}
        if len(latencies) % 2:
            params["region"] = f"R0{rng.randint(1, 9)}"
        if after is not None:
            params["after"] = after
        elapsed, page = await _timed(client, "/api/v1/households", params)
        latencies.append(elapsed)
        after = page["next_after"] if rng.random() < 0.9 else None
    return _summary(households, latencies)


def _summary(households: int, latencies: list[float]) -> ApiLatency:
    return ApiLatency(
        households,
        len(latencies),
        round(percentile(latencies, 0.50), 2),
        round(percentile(latencies, 0.95), 2),
        round(percentile(latencies, 0.99), 2),
    )
