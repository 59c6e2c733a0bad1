"""How every agent processes a batch: decode, handle with retries, and dead-letter what can never succeed.

Faust acknowledges a message whose agent raised, and so skips it. Here nothing raises out of a batch:
a transient failure (database, broker or store unavailable) is retried with backoff, holding the
partition until it passes; a permanent one sends just the offending message to its `.dlq` twin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.processed_events import claim_new_events, only_new
from dsrs.dlq.causes import cause_of
from dsrs.dlq.publisher import DeadLetterPublisher, Failure
from dsrs.events.incoming import Incoming
from dsrs.monitoring.metrics import (
    AGENT_BATCH_SECONDS,
    AGENT_EVENTS_APPLIED_UPSTREAM,
    AGENT_EVENTS_FAILED,
    AGENT_EVENTS_PROCESSED,
    AGENT_RETRIES,
)
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.monitoring.tracing import recording, start_span, traceparent_of
from dsrs.streams.errors import is_transient
from dsrs.waiting import Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
T_co = TypeVar("T_co", covariant=True)


@dataclass(slots=True)
class Decoded(Generic[T]):
    message: Incoming
    item: T


class Handler(Protocol[T]):
    """One stage of the saga: how it reads a message and what it does with a batch of them."""

    consumer: str

    def decode(self, message: Incoming) -> T:
        """Parse and validate; raise for a message that can never be processed."""
        ...

    async def handle(self, batch: Sequence[Decoded[T]]) -> None:
        """Apply the batch's effects, deduplicated by event id, in one transaction."""
        ...


@asynccontextmanager
async def claimed(
    engine: AsyncEngine, consumer: str, items: Iterable[T], event_id: Callable[[T], str]
) -> AsyncIterator[tuple[AsyncConnection, list[T]]]:
    """A handler's transaction, and the items whose events `consumer` has not applied before, each once.

    The claims are made in that transaction: they commit with the handler's effects or not at all.
    """
    listed = list(items)
    async with engine.begin() as connection:
        new = await claim_new_events(connection, consumer, (event_id(item) for item in listed))
        yield connection, only_new(listed, new, event_id)


def event_id_of(item: Any) -> str:
    """The event id of a decoded item that keeps it as `event_id`, as most stages' items do."""
    return str(item.event_id)


@dataclass(frozen=True)
class Outcome:
    error: Exception | None
    attempts: int
    first_failure: datetime | None


class BatchProcessor(Generic[T]):
    def __init__(
        self,
        handler: Handler[T],
        dead_letters: DeadLetterPublisher,
        backoff: Backoff | None = None,
    ) -> None:
        self.handler = handler
        self.dead_letters = dead_letters
        self.backoff = backoff or Backoff()
        self.processed = 0
        # Skipped: the transaction that wrote them applied this stage's effects (dsrs.events.applied).
        self.applied_upstream = 0
        self.failed = 0
        self.retries = 0
        # Every series exists from the start, at zero: "no failures" shows as 0, not as no data.
        for metric in (AGENT_EVENTS_PROCESSED, AGENT_EVENTS_APPLIED_UPSTREAM, AGENT_EVENTS_FAILED, AGENT_RETRIES):
            metric.labels(agent=handler.consumer)

    async def process(self, messages: Sequence[Incoming]) -> None:
        if not recording():
            # Nothing is exported: the incoming traceparent travels on as it is, at no cost per message.
            with AGENT_BATCH_SECONDS.labels(agent=self.handler.consumer).time():
                await self._process(messages)
            return
        # One span per message, child of the span that published it; the handler then sees this span's
        # traceparent, so what it emits continues the household's trace from here.
        spans = [start_span(self.handler.consumer, m.header(TRACEPARENT), SpanKind.CONSUMER) for m in messages]
        traced = [
            replace(m, headers={**m.headers, TRACEPARENT: traceparent_of(s, m.header(TRACEPARENT)).encode()})
            for m, s in zip(messages, spans, strict=True)
        ]
        try:
            with AGENT_BATCH_SECONDS.labels(agent=self.handler.consumer).time():
                await self._process(traced)
        finally:
            for finished in spans:
                finished.end()

    async def _process(self, messages: Sequence[Incoming]) -> None:
        decoded: list[Decoded[T]] = []
        upstream = 0
        for message in messages:
            if message.applied_upstream(self.handler.consumer):
                upstream += 1
                continue
            try:
                decoded.append(Decoded(message, self.handler.decode(message)))
            except Exception as error:
                await self._dead_letter(message, Outcome(error, 1, datetime.now(UTC)))
        if upstream:
            self.applied_upstream += upstream
            AGENT_EVENTS_APPLIED_UPSTREAM.labels(agent=self.handler.consumer).inc(upstream)
        if not decoded:
            return
        outcome = await self._with_retries(lambda: self.handler.handle(decoded))
        if outcome.error is None:
            self._applied(len(decoded))
            return
        if len(decoded) == 1:
            await self._dead_letter(decoded[0].message, outcome)
            return
        # Some message in the batch breaks an invariant: find it by handling them one at a time.
        for single in decoded:
            alone = await self._with_retries(lambda single=single: self.handler.handle([single]))  # type: ignore[misc]
            if alone.error is None:
                self._applied(1)
            else:
                await self._dead_letter(single.message, alone)

    def _applied(self, count: int) -> None:
        self.processed += count
        AGENT_EVENTS_PROCESSED.labels(agent=self.handler.consumer).inc(count)

    async def _with_retries(self, attempt: Callable[[], Awaitable[None]]) -> Outcome:
        attempts = 0
        first_failure: datetime | None = None
        while True:
            attempts += 1
            try:
                await attempt()
                return Outcome(None, attempts, first_failure)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                first_failure = first_failure or datetime.now(UTC)
                if not is_transient(error):
                    return Outcome(error, attempts, first_failure)
                delay = self.backoff.delay(attempts)
                self.retries += 1
                AGENT_RETRIES.labels(agent=self.handler.consumer).inc()
                log.warning(
                    "%s: transient %s (attempt %d); retrying in %.1fs",
                    self.handler.consumer,
                    type(error).__name__,
                    attempts,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _dead_letter(self, message: Incoming, outcome: Outcome) -> None:
        error = outcome.error
        assert error is not None
        failure = Failure(
            error_class=f"{type(error).__module__}.{type(error).__qualname__}",
            message=str(error),
            attempts=outcome.attempts,
            first_failure=outcome.first_failure or datetime.now(UTC),
            consumer=self.handler.consumer,
            cause=cause_of(error),
        )
        log.error(
            "%s: %s at %s[%d]@%d goes to the dead-letter topic: %s",
            self.handler.consumer,
            failure.error_class,
            message.topic,
            message.partition,
            message.offset,
            failure.message,
        )
        # The dead letter must be kept before the original is acknowledged: until it is, the partition waits.
        attempts = 0
        while (sent := await self._with_retries(lambda: self.dead_letters.send(message, failure))).error:
            attempts += 1
            delay = self.backoff.delay(attempts)
            log.error(
                "%s: could not dead-letter %s[%d]@%d (%s); trying again in %.1fs",
                self.handler.consumer,
                message.topic,
                message.partition,
                message.offset,
                type(sent.error).__name__,
                delay,
            )
            await asyncio.sleep(delay)
        self.failed += 1
        AGENT_EVENTS_FAILED.labels(agent=self.handler.consumer).inc()
