"""The benchmark's PostgreSQL limit writes, into the real schema, exactly the rows it counts per household."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from dsrs.db.engine import create_engine
from dsrs.settings import Settings
from dsrs_dev.bench.environment import isolated_database, with_database
from dsrs_dev.bench.saga import POSTGRES_BATCH, postgres_limit
from dsrs_dev.stack.manager import Stack

pytestmark = pytest.mark.integration

PER_HOUSEHOLD = {
    "households": 1,
    # registered, one assessment per program, payment scheduled
    "event_outbox": 4,
    "processed_events": 3,
    "eligibility_assessments": 2,
    "payments": 1,
}


async def _write_and_count(settings: Settings, households: int) -> tuple[float, dict[str, int], int]:
    engine = create_engine(settings, pool_size=1)
    try:
        rate = await postgres_limit(engine, households, programs=2)
        async with engine.connect() as connection:
            counts = {
                table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                for table in PER_HOUSEHOLD
            }
            documents = (
                await connection.execute(text("SELECT count(*) FROM event_outbox WHERE payload ? 'x'"))
            ).scalar_one()
    finally:
        await engine.dispose()
    return rate, counts, documents


def test_every_row_of_every_household_is_written_across_batches(stack: Stack, settings: Settings) -> None:
    # One full batch and a partial one: both are written, and nothing else is.
    households = POSTGRES_BATCH + 7
    # Migrating runs its own event loop, so this test is synchronous and runs the writing in another.
    with isolated_database(stack, settings, "dsrs_test_rows") as database:
        rate, counts, documents = asyncio.run(_write_and_count(with_database(settings, database), households))
    assert rate > 0
    assert counts == {table: households * rows for table, rows in PER_HOUSEHOLD.items()}
    # JSON travels as text and is stored as a document, not as a string.
    assert documents == counts["event_outbox"]
