"""The outbox relay: publishes committed events to Kafka in order per household, then deletes them.

What its fan-out (dsrs.outbox.fan_out) makes of a claim's events goes with them; the rows are deleted
only when both are acknowledged.

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
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.engine import connect_args
from dsrs.events.record_batches import RecordBatches
from dsrs.monitoring.metrics import OUTBOX_PUBLISHED
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.monitoring.tracing import hop
from dsrs.outbox.fan_out import FanOut, Published, checked_data_fields
from dsrs.outbox.notify import OutboxListener
from dsrs.settings import Settings
from dsrs.waiting import wait_at_most

log = logging.getLogger(__name__)


def pending_page(data_fields: tuple[str, ...]) -> TextClause:
    """The oldest pending events after `:after`, with the data fields a fan-out reads (plain names only)."""
    fields = ", ".join(f"payload->'data'->>'{name}'" for name in data_fields)
    return text(
        f"""
        SELECT id, aggregate_id, topic, message_key, headers, event_type,
               -- As the bytes of PostgreSQL's text, which go to Kafka as they are, not decoded and encoded again.
               convert_to(payload::text, 'UTF8') AS payload_bytes,
               ARRAY[{fields}]::text[] AS fields
        FROM event_outbox
        WHERE id > :after
        ORDER BY id
        LIMIT :limit
        """
    )


# A head another relay published meanwhile is gone, and one it holds is skipped.
LOCK_HEADS = text("SELECT id FROM event_outbox WHERE id = ANY(:ids) FOR UPDATE SKIP LOCKED")
# Large enough that a relay waiting on acknowledgements keeps up with the agents; when it keeps up, a
# claim takes what is pending, so the size adds no latency.
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
        fan_out: FanOut | None = None,
        on_published: Callable[[int], None] = OUTBOX_PUBLISHED.inc,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.fan_out = fan_out
        self.data_fields = checked_data_fields(fan_out)
        self.pending_page = pending_page(self.data_fields)
        self.engine = engine
        self.producer = producer
        self.events_per_batch = events_per_batch
        self.idle_poll_seconds = idle_poll_seconds
        self.published_total = 0
        # A relay in a process of its own reports to the worker, whose /metrics count what it published.
        self.on_published = on_published
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called on NOTIFY: new events were committed."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch of claimed events; the number published (0 when nothing was pending)."""
        async with self.engine.begin() as connection:
            rows = await self.claim(connection)
            if not rows:
                return 0
            batches = RecordBatches(self.producer)
            published = [await self._publish(row, batches) for row in rows]
            if self.fan_out is not None:
                for message in self.fan_out.messages(published):
                    await batches.add(message.topic, message.key, message.value, message.headers)
            # Wait for every acknowledgement before deleting anything: a failure rolls the claim back.
            await batches.delivered()
            await connection.execute(DELETE_PUBLISHED, {"ids": [row.id for row in rows]})
        self.published_total += len(rows)
        self.on_published(len(rows))
        return len(rows)

    async def claim(self, connection: AsyncConnection) -> list[Any]:
        """Oldest first, the pending events of the aggregates whose head this relay locked (in `connection`'s
        transaction; the benchmark's PostgreSQL limit sends these statements as the relay does)."""
        seen: set[str] = set()
        ours: set[str] = set()
        after = 0
        for _ in range(PAGES_PER_CLAIM):
            page = (await connection.execute(self.pending_page, {"after": after, "limit": self.events_per_batch})).all()
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

    async def _publish(self, row: Any, batches: RecordBatches) -> Published:
        headers = {name: str(value) for name, value in row.headers.items()}
        with hop(f"outbox.publish {row.topic}", headers.get(TRACEPARENT), SpanKind.PRODUCER) as traceparent:
            headers[TRACEPARENT] = traceparent
            event = Published(
                row.event_type,
                dict(zip(self.data_fields, row.fields, strict=True)),
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
