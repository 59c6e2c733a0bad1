"""The outbox relay: publishes committed events to Kafka in order per household, then marks them published.

The events analytics counts also go, bundled per program and region, to the analytics topic
(see dsrs.analytics.bundle); they are marked published only when both are acknowledged.

It claims whole aggregates: the oldest pending event of each household is locked with
FOR UPDATE SKIP LOCKED, and that household's pending events go out in id order. Another relay
skips a household whose oldest event is locked, so several workers can relay at once without
reordering any household's events. Rows are marked published only after the broker acknowledged
them; a crash in between publishes them again, which consumers absorb by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.analytics.bundle import Outgoing, bundles
from dsrs.events.tracing import TRACEPARENT
from dsrs.monitoring.metrics import OUTBOX_PUBLISHED
from dsrs.monitoring.tracing import hop

log = logging.getLogger(__name__)

CLAIM = text(
    """
    WITH heads AS (
        SELECT o.aggregate_id
        FROM event_outbox o
        WHERE o.published_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM event_outbox older
              WHERE older.aggregate_id = o.aggregate_id AND older.published_at IS NULL AND older.id < o.id
          )
        ORDER BY o.id
        LIMIT :aggregates
        FOR UPDATE SKIP LOCKED
    )
    SELECT id, topic, message_key, headers, event_type,
           -- As PostgreSQL's text: decoding the JSON only to encode it again cost a sixth of the relay.
           payload::text AS payload_text,
           payload->'data'->>'program_id' AS program_id,
           payload->'data'->>'region' AS region
    FROM event_outbox
    WHERE published_at IS NULL AND aggregate_id IN (SELECT aggregate_id FROM heads)
    ORDER BY id
    """
)
MARK_PUBLISHED = text("UPDATE event_outbox SET published_at = now() WHERE id = ANY(:ids)")
LAG = text(
    "SELECT count(*) AS pending, EXTRACT(EPOCH FROM now() - min(created_at)) AS oldest_age "
    "FROM event_outbox WHERE published_at IS NULL"
)


@dataclass(frozen=True)
class OutboxLag:
    pending: int
    oldest_pending_age_seconds: float


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        aggregates_per_batch: int = 500,
        idle_poll_seconds: float = 0.5,
        topic_prefix: str = "",
        analytics_topic: str | None = None,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.analytics_topic = analytics_topic
        self.engine = engine
        self.producer = producer
        self.aggregates_per_batch = aggregates_per_batch
        self.idle_poll_seconds = idle_poll_seconds
        self.published_total = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called on NOTIFY: new events were committed."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch of claimed events; the number published (0 when nothing was pending)."""
        async with self.engine.begin() as connection:
            rows = (await connection.execute(CLAIM, {"aggregates": self.aggregates_per_batch})).all()
            if not rows:
                return 0
            published = [await self._publish(row) for row in rows]
            deliveries = [delivery for _, delivery in published]
            if self.analytics_topic is not None:
                deliveries += [
                    await self.producer.send(self.analytics_topic, b.value, key=b.key, headers=list(b.headers))
                    for b in bundles(event for event, _ in published)
                ]
            # Wait for every acknowledgement before marking anything: a failure rolls the claim back.
            await asyncio.gather(*deliveries)
            await connection.execute(MARK_PUBLISHED, {"ids": [row.id for row in rows]})
        self.published_total += len(rows)
        OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    async def _publish(self, row: Any) -> tuple[Outgoing, Any]:
        headers = {name: str(value) for name, value in row.headers.items()}
        with hop(f"outbox.publish {row.topic}", headers.get(TRACEPARENT), SpanKind.PRODUCER) as traceparent:
            headers[TRACEPARENT] = traceparent
            event = Outgoing(
                row.event_type,
                row.program_id,
                row.region,
                row.payload_text.encode(),
                [(name, value.encode()) for name, value in headers.items()],
            )
            delivery = await self.producer.send(
                self.topic_prefix + row.topic, event.value, key=row.message_key.encode(), headers=list(event.headers)
            )
        return event, delivery

    async def lag(self) -> OutboxLag:
        async with self.engine.connect() as connection:
            row = (await connection.execute(LAG)).one()
        return OutboxLag(int(row.pending), float(row.oldest_age or 0.0))

    async def run(self, stopping: asyncio.Event, on_error_backoff: float = 1.0) -> None:
        """Relay until `stopping` is set; failures are logged and retried, never fatal."""
        backoff = on_error_backoff
        while not stopping.is_set():
            # Cleared before looking, so a NOTIFY that arrives while we look is not lost.
            self._wake.clear()
            try:
                published = await self.publish_batch()
                backoff = on_error_backoff
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay: publishing failed; retrying in %.1fs", backoff)
                await _sleep_until(stopping, backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.idle_poll_seconds):
                        await self._wake.wait()


async def _sleep_until(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stopping.wait()
