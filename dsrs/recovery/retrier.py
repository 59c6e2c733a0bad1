"""The reprocess agent's duty: retry the letters whose cause has changed since they failed, and see
which of those that were retried have since been applied.

A letter is retried at most once per change of its cause's fingerprint, and not again before its
backoff has passed. It is sent back unchanged, with its event id, so a consumer that applied it
meanwhile ignores it: each letter is still applied at most once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.dlq.causes import CAUSES, PROGRAMS, REGIONS, RELEASE
from dsrs.dlq.letters import decode_headers
from dsrs.dlq.publisher import RETRY_OF
from dsrs.monitoring.metrics import DLQ_LETTERS_RECOVERED, DLQ_LETTERS_RETRIED

MARK_RECOVERED = text(
    """
    UPDATE dead_letters d SET state = 'recovered', updated_at = now()
    FROM processed_events p
    WHERE d.state = 'retried' AND p.consumer = d.consumer AND p.event_id = d.event_id
    RETURNING d.letter_id
    """
)
DUE = text(
    """
    SELECT letter_id, original_topic, message_key, message_value, headers, cause
    FROM dead_letters
    WHERE state IN ('waiting', 'parked') AND cause <> 'content'
      AND context <> CASE cause WHEN 'regions' THEN :regions WHEN 'programs' THEN :programs ELSE :release END
      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    ORDER BY created_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
MARK_RETRIED = text(
    """
    UPDATE dead_letters
    SET state = 'retried', attempts = attempts + 1, updated_at = now(),
        context = CASE cause WHEN 'regions' THEN :regions WHEN 'programs' THEN :programs ELSE :release END,
        next_attempt_at = now() + make_interval(secs => least(:max_backoff, :first_backoff * 2 ^ attempts))
    WHERE letter_id = ANY(:ids)
    """
)


class LetterRetrier:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        contexts: Mapping[str, str],
        letters_per_step: int = 200,
        first_backoff_seconds: float = 30.0,
        max_backoff_seconds: float = 3600.0,
    ) -> None:
        self.engine = engine
        self.producer = producer
        # Read at each step: the programs' fingerprint changes when a version activates (the worker's runtime).
        self.contexts = contexts
        self.letters_per_step = letters_per_step
        for cause in CAUSES:
            DLQ_LETTERS_RETRIED.labels(cause=cause)
        self.backoff = {"first_backoff": first_backoff_seconds, "max_backoff": max_backoff_seconds}

    async def step(self) -> int:
        """Note what was recovered, then retry one page of due letters; the number retried."""
        async with self.engine.begin() as connection:
            recovered = len((await connection.execute(MARK_RECOVERED)).all())
        if recovered:
            DLQ_LETTERS_RECOVERED.inc(recovered)
        return await self._retry_due()

    @property
    def current(self) -> dict[str, str]:
        contexts = self.contexts
        return {"regions": contexts[REGIONS], "programs": contexts[PROGRAMS], "release": contexts[RELEASE]}

    async def _retry_due(self) -> int:
        current = self.current
        async with self.engine.begin() as connection:
            due = (await connection.execute(DUE, {**current, "limit": self.letters_per_step})).all()
            if not due:
                return 0
            deliveries = []
            for row in due:
                headers = [*decode_headers(row.headers), (RETRY_OF, row.letter_id.encode())]
                deliveries.append(
                    await self.producer.send(
                        row.original_topic, row.message_value, key=row.message_key, headers=headers
                    )
                )
            # Recorded only once the broker has them all: a failure here retries them again, harmlessly.
            await asyncio.gather(*deliveries)
            await connection.execute(MARK_RETRIED, {**current, **self.backoff, "ids": [r.letter_id for r in due]})
        for row in due:
            DLQ_LETTERS_RETRIED.labels(cause=row.cause).inc()
        return len(due)
