"""The outbox relay: publishes committed events to Kafka in order per household, then deletes them.

The events analytics counts also go, bundled per program and region, to the analytics topic
(see dsrs.analytics.bundle); they are deleted only when both are acknowledged.

It claims whole aggregates. It reads the oldest pending events by id, page by page; the first
event of an aggregate seen there is its oldest pending one, its head. The heads are locked with
FOR UPDATE SKIP LOCKED and the aggregates whose head it got go out in id order. Another relay skips
an aggregate whose head is locked, and pages on to others, so several workers can relay at once
without reordering any household's events. Rows are deleted only after the broker acknowledged
them; a crash in between publishes them again, which consumers absorb by event id. The outbox so
holds pending events only: published ones live on in their topics (migration 0007 says why).

Each statement has one sensible plan whatever the table's statistics say. They are often wrong
here: analysed while the relay kept up, the table seems to hold no pending rows, and a backlog of
30,000 then turned the former single-statement claim (an anti-join per pending row) into 10 s scans.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.analytics.bundle import Outgoing, bundles
from dsrs.db.engine import connect_args
from dsrs.events.record_batches import RecordBatches
from dsrs.events.topics import ANALYTICS_BY_PROGRAM_REGION
from dsrs.events.tracing import TRACEPARENT
from dsrs.monitoring.metrics import OUTBOX_PUBLISHED
from dsrs.monitoring.tracing import hop
from dsrs.outbox.notify import OutboxListener
from dsrs.settings import Settings
from dsrs.waiting import wait_at_most

log = logging.getLogger(__name__)

PENDING_PAGE = text(
    """
    SELECT id, aggregate_id, topic, message_key, headers, event_type,
           -- As the bytes of PostgreSQL's text, which go to Kafka as they are: decoding the JSON only to
           -- encode it again cost a sixth of the relay.
           convert_to(payload::text, 'UTF8') AS payload_bytes,
           payload->'data'->>'program_id' AS program_id,
           payload->'data'->>'region' AS region
    FROM event_outbox
    WHERE id > :after
    ORDER BY id
    LIMIT :limit
    """
)
# A head another relay published meanwhile is gone, and one it holds is skipped.
LOCK_HEADS = text("SELECT id FROM event_outbox WHERE id = ANY(:ids) FOR UPDATE SKIP LOCKED")
# Each claim waits for the broker's acknowledgements and then commits, while the agents keep the event
# loop busy: with 500 a claim, the relay fell 39,000 events behind the agents at full speed, and a
# household's payment waited for it. 2,000 kept it within one claim of them (60,000 households: 478 ->
# 523-556 households/s). When it keeps up, a claim takes what is pending, so this adds no latency.
EVENTS_PER_CLAIM = 2000
# How far past other relays' aggregates a relay looks for some of its own.
PAGES_PER_CLAIM = 8
DELETE_PUBLISHED = text("DELETE FROM event_outbox WHERE id = ANY(:ids)")
LAG = text("SELECT count(*) AS pending, EXTRACT(EPOCH FROM now() - min(created_at)) AS oldest_age FROM event_outbox")


@dataclass(frozen=True)
class OutboxLag:
    pending: int
    oldest_pending_age_seconds: float


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        events_per_batch: int = EVENTS_PER_CLAIM,
        idle_poll_seconds: float = 0.5,
        topic_prefix: str = "",
        analytics_topic: str | None = None,
        on_published: Callable[[int], None] = OUTBOX_PUBLISHED.inc,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.analytics_topic = analytics_topic
        self.engine = engine
        self.producer = producer
        self.events_per_batch = events_per_batch
        self.idle_poll_seconds = idle_poll_seconds
        self.published_total = 0
        # A relay in a process of its own reports to the worker, whose /metrics count what it published.
        self.on_published = on_published
        self._wake = asyncio.Event()

    @classmethod
    def of_deployment(
        cls,
        settings: Settings,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        on_published: Callable[[int], None] = OUTBOX_PUBLISHED.inc,
    ) -> OutboxRelay:
        """The relay of the deployment `settings` describe: its topic names and its analytics bundles."""
        return cls(
            engine,
            producer,
            topic_prefix=settings.topic_prefix,
            analytics_topic=settings.topic(ANALYTICS_BY_PROGRAM_REGION),
            on_published=on_published,
        )

    def wake(self) -> None:
        """Called on NOTIFY: new events were committed."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch of claimed events; the number published (0 when nothing was pending)."""
        async with self.engine.begin() as connection:
            rows = await self._claim(connection)
            if not rows:
                return 0
            batches = RecordBatches(self.producer)
            published = [await self._publish(row, batches) for row in rows]
            if self.analytics_topic is not None:
                for bundle in bundles(published):
                    await batches.add(self.analytics_topic, bundle.key, bundle.value, bundle.headers)
            # Wait for every acknowledgement before deleting anything: a failure rolls the claim back.
            await batches.delivered()
            await connection.execute(DELETE_PUBLISHED, {"ids": [row.id for row in rows]})
        self.published_total += len(rows)
        self.on_published(len(rows))
        return len(rows)

    async def _claim(self, connection: AsyncConnection) -> list[Any]:
        """Oldest first, the pending events of the aggregates whose head this relay locked."""
        seen: set[str] = set()
        ours: set[str] = set()
        after = 0
        for _ in range(PAGES_PER_CLAIM):
            page = (await connection.execute(PENDING_PAGE, {"after": after, "limit": self.events_per_batch})).all()
            heads: dict[int, str] = {}
            for row in page:
                if row.aggregate_id not in seen:
                    seen.add(row.aggregate_id)
                    heads[row.id] = row.aggregate_id
            if heads:
                locked = (await connection.execute(LOCK_HEADS, {"ids": list(heads)})).scalars()
                ours.update(heads[head] for head in locked)
            if ours:
                return [row for row in page if row.aggregate_id in ours]
            if len(page) < self.events_per_batch:
                return []
            # Every head here is another relay's: look further on.
            after = page[-1].id
        return []

    async def _publish(self, row: Any, batches: RecordBatches) -> Outgoing:
        headers = {name: str(value) for name, value in row.headers.items()}
        with hop(f"outbox.publish {row.topic}", headers.get(TRACEPARENT), SpanKind.PRODUCER) as traceparent:
            headers[TRACEPARENT] = traceparent
            event = Outgoing(
                row.event_type,
                row.program_id,
                row.region,
                row.payload_bytes,
                [(name, value.encode()) for name, value in headers.items()],
            )
            await batches.add(self.topic_prefix + row.topic, row.message_key.encode(), event.value, event.headers)
        return event

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
                await wait_at_most(stopping, backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if published == 0:
                await wait_at_most(self._wake, self.idle_poll_seconds)


async def relay_woken_by_notify(relay: OutboxRelay, settings: Settings, stopping: asyncio.Event) -> None:
    """Run `relay` until `stopping` is set, woken by the outbox's NOTIFY as events are committed."""
    listener = OutboxListener(settings.database_url, relay.wake, connect_args=connect_args(settings))
    await asyncio.gather(relay.run(stopping), listener.run(stopping))
