"""The benchmark's PostgreSQL limit sends the saga's own transactions: replayed, they leave exactly the rows the
worker's handlers left when they ran on the same households."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from dsrs.db.engine import create_engine
from dsrs.settings import Settings
from dsrs.worker.agents import BATCH_SIZE
from dsrs_dev.bench.environment import isolated_database, with_database
from dsrs_dev.bench.postgres_limit import PostgresLimit, postgres_limit
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake

pytestmark = pytest.mark.integration

TABLES = text("SELECT relname FROM pg_stat_user_tables WHERE relname <> 'alembic_version' ORDER BY relname")


async def _rows(settings: Settings) -> tuple[dict[str, int], dict[str, int], int]:
    """Rows per table, claims per consumer, and outbox rows whose payload is a whole event."""
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as connection:
            tables = list((await connection.execute(TABLES)).scalars())
            counts = {}
            for table in tables:
                counts[table] = int((await connection.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one())
            by_consumer = await connection.execute(text("SELECT consumer, count(*) FROM processed_events GROUP BY 1"))
            claims = {str(consumer): int(count) for consumer, count in by_consumer}
    finally:
        await engine.dispose()
    return counts, claims, counts["event_outbox"]


@pytest.mark.parametrize(
    ("colocated", "workers"), [(True, 1), (False, 1), (True, 2)], ids=["colocated", "stage-by-stage", "two-workers"]
)
def test_the_replay_leaves_the_rows_the_stage_handlers_left(
    stack: Stack, settings: Settings, colocated: bool, workers: int
) -> None:
    settings = settings.model_copy(update={"colocated_stages": colocated})
    # One full intake batch and a partial one, through every stage.
    households = BATCH_SIZE + 100
    messages = synthetic_intake(households, settings.regions, seed=9, update_share=0, invalid_share=0)
    # Migrating runs its own event loop, so this test is synchronous and runs the limit in another.
    with (
        isolated_database(stack, settings, "dsrs_test_record") as recorded_db,
        isolated_database(stack, settings, "dsrs_test_replay") as replayed_db,
    ):
        record, replay = with_database(settings, recorded_db), with_database(settings, replayed_db)
        limit = asyncio.run(postgres_limit(record, replay, messages, households, workers))
        recorded, recorded_claims, _ = asyncio.run(_rows(record))
        replayed, claims, outbox = asyncio.run(_rows(replay))

    assert isinstance(limit, PostgresLimit)
    assert limit.households == households
    # Five stages (DCI notify among them) and the relay, each on a connection of its own for every worker but
    # analytics, whose counters stay on one.
    assert limit.connections == 4 * workers + 1 + workers
    assert replayed == recorded
    assert claims == recorded_claims
    assert replayed["households"] == households
    assert replayed["household_facts"] == households
    # Matching wrote each household's blocking keys.
    assert replayed["household_match_keys"] >= households
    assert replayed["eligibility_assessments"] == 2 * households
    assert 0 < replayed["payments"] <= 2 * households
    # Every consumer claimed what it consumed: intake and registered events, both assessments, and analytics
    # each assessment and each payment scheduled; colocated, eligibility and payment applied theirs in the
    # intake's transactions and their agents had nothing to claim.
    assert claims["registry-intake"] == households
    assert claims.get("eligibility", 0) == (0 if colocated else households)
    assert claims.get("payment", 0) == (0 if colocated else 2 * households)
    assert claims["analytics"] == 2 * households + replayed["payments"]
    # With no DCI subscriber, DCI notify reads the registry's events and claims none.
    assert "dci-notify" not in claims
    # The relay claimed and deleted every event the stages wrote.
    assert outbox == 0
