"""The saga's Faust agents: each reads its topics in batches and hands them to its stage.

Concurrency stays 1 (faust-streaming #606: more can commit past an unprocessed message);
throughput comes from partitions and workers, and from batching within an agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import faust
from faust.types import StreamT

from dsrs.dci import notify
from dsrs.events import topics
from dsrs.events.incoming import Incoming
from dsrs.monitoring.heap import freeze_startup_heap
from dsrs.streams.batching import SagaStream
from dsrs.streams.processing import BatchProcessor, Handler
from dsrs.streams.raw_schema import RawSchema
from dsrs.worker.runtime import Runtime

BATCH_SIZE = 500
# How long a stage on a household's way to its payment waits to fill a batch: small, it is latency.
BATCH_WITHIN_SECONDS = 0.05
# Analytics is off that path, and each of its batches writes every key it touched (PostgreSQL, table
# changelogs): under light load, batching for longer cuts that work by the ratio of the two windows.
ANALYTICS_WITHIN_SECONDS = 1.0
# Analytics reads bundles of up to FACTS_PER_BUNDLE facts: a batch of many bundles holds so many facts at
# once, catching up on a backlog, that the worker's memory grows for good; this is about a second's worth
# at full speed (docs/performance.md).
ANALYTICS_BATCH_BUNDLES = 50


def incoming(event: Any) -> Incoming:
    message = event.message
    raw_headers = message.headers or {}
    pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
    return Incoming(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers={str(name): bytes(value or b"") for name, value in pairs},
        origin=event,
    )


def _register(
    app: faust.App,
    runtime: Runtime,
    name: str,
    topic_names: tuple[str, ...],
    handler: Callable[[], Handler[Any]],
    batch_size: int,
    within_seconds: float,
) -> None:
    names = [runtime.settings.topic(name) for name in topic_names]
    channel = app.topic(*names, schema=RawSchema())

    async def consume(stream: StreamT[Any]) -> None:
        await runtime.start()
        freeze_startup_heap()
        processor: BatchProcessor[Any] = BatchProcessor(handler(), runtime.dead_letters)
        # The app's Stream class is SagaStream (see SagaApp); StreamT does not say so.
        batches = cast(SagaStream, stream).take_waiting(batch_size, within=within_seconds)
        async for events in batches:
            work = asyncio.ensure_future(processor.process([incoming(event) for event in events]))
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                # Faust acknowledges the batch when this loop is left, even when cancelled:
                # finish it first, so that what is acknowledged really was processed.
                await work
                raise

    consume.__name__ = consume.__qualname__ = name.replace("-", "_")
    app.agent(channel, name=name, concurrency=1)(consume)


@dataclass(frozen=True)
class AgentSpec:
    name: str
    topics: tuple[str, ...]
    handler: Callable[[Runtime], Handler[Any]]
    batch_size: int = BATCH_SIZE
    within_seconds: float = BATCH_WITHIN_SECONDS


AGENTS = (
    AgentSpec("registry-intake", (topics.HOUSEHOLD_INTAKE,), Runtime.intake),
    AgentSpec(
        "eligibility",
        (topics.HOUSEHOLD_REGISTERED, topics.HOUSEHOLD_UPDATED, topics.HOUSEHOLD_REACTIVATED),
        Runtime.eligibility,
    ),
    # Decisions and departures: payments follow eligibility (dsrs.payment.scheduler).
    AgentSpec(
        "payment",
        (topics.ASSESSED_APPROVED, topics.ASSESSED_DENIED, topics.HOUSEHOLD_DEACTIVATED),
        Runtime.payment,
    ),
    # DCI subscriptions: household events become notify callbacks owed to subscribers (dsrs.dci.notify).
    AgentSpec("dci-notify", notify.TOPICS, Runtime.dci_notifier),
    AgentSpec("payment-settlement", (topics.PROVIDER_SETTLEMENT,), Runtime.settlement),
    AgentSpec("payment-statement", (topics.PROVIDER_STATEMENT,), Runtime.statements),
    # Every dead-letter topic: the reprocess agent records each letter and its state (dsrs.recovery).
    AgentSpec("dlq-reprocess", topics.DEAD_LETTER_TOPICS, Runtime.dead_letter_recorder),
    AgentSpec(
        "analytics",
        (topics.ANALYTICS_BY_PROGRAM_REGION,),
        Runtime.analytics_counter,
        ANALYTICS_BATCH_BUNDLES,
        ANALYTICS_WITHIN_SECONDS,
    ),
)
CONSUMED_TOPICS = tuple(dict.fromkeys(topic for agent in AGENTS for topic in agent.topics))


def register_agents(app: faust.App, runtime: Runtime) -> None:
    for agent in AGENTS:
        handler = partial(agent.handler, runtime)
        _register(app, runtime, agent.name, agent.topics, handler, agent.batch_size, agent.within_seconds)
