"""The Kafka limit of `dsrs bench saga`: what a household costs the broker in the saga, produced and consumed
back as fast as the broker takes it.

A saga run counts, for each topic of its deployment (the saga's events, analytics' bundles, the tables'
changelogs, Faust's own), the messages a household added: what the saga produces. The ones on the topics the
worker's agents read (CONSUMED_TOPICS) are what it consumes; the rest (`payment.scheduled`, the changelogs) are
only written. The limit creates a copy of each topic (same partitions), produces N households' worth of
messages to them in that proportion, interleaved household by household, as the saga's producers send them
(the relay's producer settings, record batches, acknowledged a claim's worth at a time), each a message of the
saga's own taken from the run (key, value and headers: the saga's sizes), while one consumer with the worker's
fetch size reads back the copies of the consumed topics. Households per second: N over the time until every
message is acknowledged and every consumed one read.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dsrs.events.producer import saga_producer
from dsrs.events.record_batches import RecordBatches
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.kafka.lag import topic_depths, topic_partitions
from dsrs.settings import Settings
from dsrs.transport_security import kafka_client_options
from dsrs.worker.app import CONSUMER_OPTIONS

# What the limit's copies of the topics are named by: never counted as the saga's own.
LIMIT_TAG = "bench.kafka-limit."
# Messages of each topic kept from the run as the limit's payloads.
SAMPLES_PER_TOPIC = 500
# Acknowledged together, as the relay's claims are (dsrs.outbox.relay.EVENTS_PER_CLAIM).
MESSAGES_PER_DELIVERY = 2000
# A consumer that hears nothing this long after the last acknowledgement has read all there is.
QUIET_SECONDS = 10.0


@dataclass(frozen=True)
class Sample:
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass
class KafkaLimit:
    households: int
    produced: int
    consumed: int
    seconds: float
    households_per_second: float
    # Produced and consumed messages together, per second.
    messages_per_second: float
    # The copy of the intake topic: N households' intake messages, for the dispatch benchmark.
    intake_topic: str


async def deployment_depths(settings: Settings) -> dict[str, int]:
    """Messages held in each of the deployment's topics: the saga's, their dead letters, Faust's own."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kafka_client_options(settings))
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    ours = [n for n in names if n.startswith((settings.topic_prefix, f"{settings.app_id}-")) and LIMIT_TAG not in n]
    return await topic_depths(settings.bootstrap_servers, ours, **kafka_client_options(settings))


async def sample_messages(
    settings: Settings, names: Sequence[str], count: int = SAMPLES_PER_TOPIC
) -> dict[str, list[Sample]]:
    """Up to `count` messages of each topic, from its beginning."""
    partitions = await topic_partitions(settings.bootstrap_servers, names, **kafka_client_options(settings))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, **kafka_client_options(settings)
    )
    await consumer.start()
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while True:
            batch = await consumer.getmany(timeout_ms=2000, max_records=5000)
            if not batch:
                return samples
            for tp, records in batch.items():
                kept = samples[tp.topic]
                kept.extend(Sample(r.key, r.value, list(r.headers)) for r in records[: count - len(kept)])
                if len(kept) >= count:
                    consumer.pause(*(p for p in partitions if p.topic == tp.topic))
            if all(len(kept) >= count for kept in samples.values()):
                return samples
    finally:
        await consumer.stop()


def household_plan(per_household: Mapping[str, float], households: int) -> list[list[str]]:
    """For each household, the topics of its messages: each topic's share spread evenly over the households."""
    plan: list[list[str]] = [[] for _ in range(households)]
    for topic, rate in sorted(per_household.items()):
        for number in range(households):
            plan[number].extend([topic] * (int((number + 1) * rate) - int(number * rate)))
    return plan


async def _copies(settings: Settings, names: Sequence[str]) -> dict[str, str]:
    """A topic of the deployment's own for each of `names`, with as many partitions; deleted with it."""
    partitions = await topic_partitions(settings.bootstrap_servers, names, **kafka_client_options(settings))
    counts: dict[str, int] = {}
    for tp in partitions:
        counts[tp.topic] = counts.get(tp.topic, 0) + 1
    tag = uuid.uuid4().hex[:6]
    copies = {name: settings.topic(f"{LIMIT_TAG}{tag}.{name.removeprefix(settings.topic_prefix)}") for name in names}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kafka_client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(copies[name], counts[name], 1) for name in names])
    finally:
        await admin.close()
    await _until_led(settings, list(copies.values()))
    return copies


async def _until_led(settings: Settings, names: Sequence[str], seconds: float = 30.0) -> None:
    """Wait until every partition of new topics has a leader: reading one before fails, noisily, and is retried."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kafka_client_options(settings))
    await admin.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            described = await admin.describe_topics(list(names))
            if all(
                topic["error_code"] == 0 and topic["partitions"] and all(p["leader"] >= 0 for p in topic["partitions"])
                for topic in described
            ):
                return
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def _consume(settings: Settings, topics: Sequence[str], expected: int, produced: asyncio.Event) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=CONSUMER_OPTIONS["consumer_max_fetch_size"],
        **kafka_client_options(settings),
    )
    await consumer.start()
    received = 0
    try:
        partitions = await topic_partitions(settings.bootstrap_servers, topics, **kafka_client_options(settings))
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        quiet_since: float | None = None
        while received < expected:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            received += sum(len(records) for records in batch.values())
            if batch or not produced.is_set():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > QUIET_SECONDS:
                break
    finally:
        await consumer.stop()
    return received


async def kafka_limit(
    settings: Settings,
    per_household: Mapping[str, float],
    consumed_topics: Sequence[str],
    samples: Mapping[str, Sequence[Sample]],
    households: int,
) -> KafkaLimit:
    """`households` households' messages (module docstring): `per_household` messages of each topic, those of
    `consumed_topics` read back; payloads from `samples`."""
    names = sorted(name for name, rate in per_household.items() if rate > 0 and samples.get(name))
    copies = await _copies(settings, names)
    plan = household_plan({name: per_household[name] for name in names}, households)
    consumed = [name for name in names if name in consumed_topics]
    expected = sum(topics.count(name) for topics in plan for name in consumed)
    producer = saga_producer(settings)
    await producer.start()
    produced_all = asyncio.Event()
    sent = 0
    try:
        started = time.perf_counter()
        reading = asyncio.create_task(_consume(settings, [copies[name] for name in consumed], expected, produced_all))
        batches = RecordBatches(producer)
        used = dict.fromkeys(names, 0)
        for topics in plan:
            for name in topics:
                kept = samples[name]
                sample = kept[used[name] % len(kept)]
                used[name] += 1
                await batches.add(copies[name], sample.key or b"", sample.value or b"", sample.headers)
                sent += 1
                if sent % MESSAGES_PER_DELIVERY == 0:
                    await batches.delivered()
        await batches.delivered()
        produced_all.set()
        received = await reading
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    intake = settings.topic(HOUSEHOLD_INTAKE)
    return KafkaLimit(
        households,
        sent,
        received,
        round(seconds, 2),
        round(households / seconds, 1),
        round((sent + received) / seconds, 1),
        copies.get(intake, ""),
    )
