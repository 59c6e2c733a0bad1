"""Refreshes the gauges that describe state rather than events: outbox lag, payments by status,
consumer lag per partition and dead-letter depth per topic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import PAYMENT_STATUSES
from dsrs.kafka.lag import consumer_lag, topic_depths
from dsrs.monitoring.metrics import CONSUMER_LAG, DLQ_DEPTH, OUTBOX_OLDEST_AGE, OUTBOX_PENDING, PAYMENTS_BY_STATUS
from dsrs.outbox.relay import OutboxRelay


class GaugeCollector:
    def __init__(
        self,
        engine: AsyncEngine,
        relay: OutboxRelay,
        bootstrap_servers: str,
        group_id: str,
        consumed_topics: Sequence[str],
        dead_letter_topics: Sequence[str],
        client_options: Mapping[str, Any],
    ) -> None:
        self.engine = engine
        self.relay = relay
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.consumed_topics = list(consumed_topics)
        self.dead_letter_topics = list(dead_letter_topics)
        self.client_options = dict(client_options)

    async def collect(self) -> int:
        lag = await self.relay.lag()
        OUTBOX_PENDING.set(lag.pending)
        OUTBOX_OLDEST_AGE.set(lag.oldest_pending_age_seconds)
        async with self.engine.connect() as connection:
            rows = await connection.execute(text("SELECT status, count(*) FROM payments GROUP BY status"))
            counts: dict[str, int] = {str(status): int(count) for status, count in rows}
        for status in PAYMENT_STATUSES:
            PAYMENTS_BY_STATUS.labels(status=status).set(int(counts.get(status, 0)))
        for tp, behind in (
            await consumer_lag(self.bootstrap_servers, self.group_id, self.consumed_topics, **self.client_options)
        ).items():
            CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(behind)
        for topic, depth in (
            await topic_depths(self.bootstrap_servers, self.dead_letter_topics, **self.client_options)
        ).items():
            DLQ_DEPTH.labels(topic=topic).set(depth)
        # Nothing to report as "work done": the caller waits its interval before the next round.
        return 0
