"""Idempotency: a consumer records each event id it applies, in the same transaction as the effects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")

_CLAIM = text(
    """
    INSERT INTO processed_events (consumer, event_id)
    SELECT :consumer, event_id FROM unnest(CAST(:event_ids AS uuid[])) AS event_id
    ON CONFLICT DO NOTHING
    RETURNING event_id
    """
)


async def claim_new_events(connection: AsyncConnection, consumer: str, event_ids: Iterable[str]) -> set[str]:
    """Record the ids as processed by `consumer`; returns those it had not processed before.

    A redelivered event's id conflicts and is left out, so its effects are not applied twice.
    If the surrounding transaction rolls back, so do these records, and the events count as new again.
    """
    unique = list(dict.fromkeys(event_ids))
    if not unique:
        return set()
    # As text: asyncpg encodes a UUID from its string directly, without a uuid.UUID per event.
    result = await connection.execute(_CLAIM, {"consumer": consumer, "event_ids": unique})
    return {str(row.event_id) for row in result}


def only_new(items: Iterable[T], new_ids: set[str], event_id: Callable[[T], str]) -> list[T]:
    """The items whose event is new, each once even if the batch holds it twice, in batch order."""
    remaining = set(new_ids)
    kept = []
    for item in items:
        key = event_id(item)
        if key in remaining:
            remaining.discard(key)
            kept.append(item)
    return kept


# Small batches, each its own short transaction, so that pruning never holds the agents' claims back.
_PRUNE = text(
    """
    DELETE FROM processed_events
    WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM processed_events
        WHERE processed_at < now() - make_interval(secs => :window_seconds)
        LIMIT :batch
    ))
    """
)


async def prune_processed_events(connection: AsyncConnection, window_seconds: float, batch: int = 5000) -> int:
    """Forget up to `batch` claims older than the dedupe window; how many were forgotten.

    A message redelivered after that is no longer in its topic (the window is at least the topics'
    retention), so no claim older than it can be needed again.
    """
    result = await connection.execute(_PRUNE, {"window_seconds": window_seconds, "batch": batch})
    return int(result.rowcount or 0)
