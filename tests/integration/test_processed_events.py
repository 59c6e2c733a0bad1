"""Consumers' claims are forgotten past the dedupe window, and only then."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.processed_events import claim_new_events, prune_processed_events
from dsrs.events.ids import new_uuid

pytestmark = pytest.mark.integration

WINDOW_SECONDS = 7 * 24 * 3600.0


async def test_claims_past_the_window_are_pruned_and_a_replay_within_it_still_changes_nothing(
    engine: AsyncEngine,
) -> None:
    consumer = f"test-prune-{uuid.uuid4().hex[:8]}"
    old, recent = [new_uuid() for _ in range(7)], [new_uuid() for _ in range(5)]
    async with engine.begin() as connection:
        assert await claim_new_events(connection, consumer, old + recent) == set(old + recent)
        await connection.execute(
            text(
                "UPDATE processed_events SET processed_at = now() - interval '8 days' "
                "WHERE consumer = :consumer AND event_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"consumer": consumer, "ids": old},
        )
    pruned = 0
    while True:
        async with engine.begin() as connection:
            batch = await prune_processed_events(connection, WINDOW_SECONDS, batch=3)
        if batch == 0:
            break
        pruned += batch
    async with engine.begin() as connection:
        left = await connection.execute(
            text("SELECT event_id::text FROM processed_events WHERE consumer = :consumer"), {"consumer": consumer}
        )
        assert set(left.scalars()) == set(recent)
        # A redelivery within the window is still recognised: nothing is applied twice.
        assert await claim_new_events(connection, consumer, recent) == set()
    assert pruned >= len(old)
