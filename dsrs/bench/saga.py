"""`dsrs bench saga`: the saga's throughput and latency, beside the Kafka and PostgreSQL limits of
the same machine, measured in the same run.

1. saga: N households published as fast as the broker takes them; households per second from the
   first intake message to the last `payment.scheduled`, and end-to-end latency (intake time to the
   household's last `payment.scheduled`) at full speed and at a fixed offered load of half of that;
2. the Kafka limit: the same messages produced and consumed back with aiokafka;
3. the PostgreSQL limit: the same rows per household written with batched transactions.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from dsrs.db.schema import eligibility_assessments, event_outbox, payments, processed_events
from dsrs.db.schema import households as households_table
from dsrs.events import topics
from dsrs.kafka_lag import consumer_lag
from dsrs.partner import publish_intake
from dsrs.progress import advancer
from dsrs.saga_status import saga_status
from dsrs.settings import Settings
from dsrs.streams.agents import CONSUMED_TOPICS
from dsrs.synthetic import IntakeMessage, synthetic_intake

POSTGRES_BATCH = 500


@dataclass
class SagaRun:
    households: int
    offered_per_second: float | None
    seconds: float
    households_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float


@dataclass
class Results:
    machine: dict[str, Any]
    households: int
    workers: int
    full_speed: SagaRun
    half_load: SagaRun
    kafka_messages_per_second: float
    postgres_households_per_second: float

    @property
    def limit_per_second(self) -> float:
        return min(self.kafka_messages_per_second, self.postgres_households_per_second)

    @property
    def ratio(self) -> float:
        return self.full_speed.households_per_second / self.limit_per_second


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class IntakeClock:
    """Synthetic intake messages, remembering when each household was submitted."""

    def __init__(self, count: int, regions: tuple[str, ...], seed: int) -> None:
        self.count = count
        self.regions = regions
        self.seed = seed
        self.submitted: dict[str, datetime] = {}

    def __iter__(self) -> Iterator[IntakeMessage]:
        for message in synthetic_intake(self.count, self.regions, seed=self.seed, update_share=0, invalid_share=0):
            self.submitted[message.household_id] = datetime.fromisoformat(json.loads(message.value)["time"])
            yield message


async def _wait_settled(engine: AsyncEngine, settings: Settings, households: int, programs: int) -> None:
    with tqdm(total=households * programs, desc="decided", unit="decision", leave=False) as progress:
        while True:
            status = await saga_status(engine)
            progress.n = min(status.assessed, households * programs)
            progress.refresh()
            if status.settled(households, programs):
                lag = await consumer_lag(
                    settings.bootstrap_servers, settings.app_id, [settings.topic(t) for t in CONSUMED_TOPICS]
                )
                if sum(lag.values()) == 0:
                    return
            await asyncio.sleep(0.25)


async def _payment_times(settings: Settings) -> dict[str, datetime]:
    """When each household's last `payment.scheduled` was published (its Kafka timestamp)."""
    consumer = AIOKafkaConsumer(
        settings.topic(topics.PAYMENT_SCHEDULED),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    times: dict[str, datetime] = {}
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=3000, max_records=10_000)
            if not batch:
                return times
            for records in batch.values():
                for record in records:
                    household = json.loads(record.value)["data"]["household_id"]
                    published = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                    times[household] = max(times.get(household, published), published)
    finally:
        await consumer.stop()


async def run_saga(
    settings: Settings, engine: AsyncEngine, households: int, programs: int, seed: int, per_second: float | None
) -> SagaRun:
    already = (await _payment_times(settings)).keys()
    before = (await saga_status(engine)).households
    clock = IntakeClock(households, settings.regions, seed)
    label = "published" if per_second is None else f"published at {per_second:.0f}/s"
    with tqdm(total=households, desc=label, unit="household") as progress:
        await publish_intake(
            settings.bootstrap_servers,
            clock,
            advancer(progress),
            topic=settings.topic(topics.HOUSEHOLD_INTAKE),
            per_second=per_second,
        )
    await _wait_settled(engine, settings, before + households, programs)
    paid = {h: t for h, t in (await _payment_times(settings)).items() if h not in already and h in clock.submitted}
    first = min(clock.submitted.values())
    last = max(paid.values()) if paid else max(clock.submitted.values())
    seconds = max((last - first).total_seconds(), 1e-3)
    latencies = [(paid[h] - clock.submitted[h]).total_seconds() * 1000 for h in paid]
    return SagaRun(
        households=households,
        offered_per_second=per_second,
        seconds=round(seconds, 2),
        households_per_second=round(households / seconds, 1),
        latency_p50_ms=round(percentile(latencies, 0.50), 1),
        latency_p95_ms=round(percentile(latencies, 0.95), 1),
        latency_p99_ms=round(percentile(latencies, 0.99), 1),
    )


async def kafka_limit(settings: Settings, households: int, seed: int) -> float:
    """Messages per second for producing the same intake messages and consuming them back."""
    topic = settings.topic(f"bench.kafka-limit.{uuid.uuid4().hex[:6]}")
    messages = list(synthetic_intake(households, settings.regions, seed=seed, update_share=0, invalid_share=0))
    started = time.perf_counter()
    await publish_intake(settings.bootstrap_servers, messages, topic=topic)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    received = 0
    try:
        while received < households:
            batch = await consumer.getmany(timeout_ms=5000, max_records=10_000)
            if not batch:
                break
            received += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()
    return round(received / (time.perf_counter() - started), 1)


def _rows(household_id: uuid.UUID, programs: int) -> dict[str, list[dict[str, Any]]]:
    """One household's rows as the saga writes them: registry, outbox, processed events, assessments, payments."""
    assessment_ids = [uuid.uuid4() for _ in range(programs)]
    event = {"aggregate_id": str(household_id), "message_key": str(household_id), "payload": {"x": 1}}
    outbox = [
        {**event, "event_id": uuid.uuid4(), "topic": topic, "event_type": topic}
        for topic in [
            "registry.household.registered",
            *["eligibility.assessed.approved"] * programs,
            "payment.scheduled",
        ]
    ]
    return {
        "households": [
            {
                "id": household_id,
                "head_of_household_name": "Bench",
                "region": "R01",
                "household_size": 4,
                "monthly_income": Decimal("100.00"),
            }
        ],
        "event_outbox": outbox,
        "processed_events": [
            {"consumer": consumer, "event_id": uuid.uuid4()}
            for consumer in ("registry-intake", "eligibility", "payment")
        ],
        "eligibility_assessments": [
            {
                "id": assessment_id,
                "household_id": household_id,
                "household_version": 1,
                "program_id": f"p{number}",
                "policy_version": "1",
                "decision": "approved",
                "rule_results": [],
                "source_event_id": uuid.uuid4(),
            }
            for number, assessment_id in enumerate(assessment_ids)
        ],
        "payments": [
            {
                "id": uuid.uuid4(),
                "household_id": household_id,
                "assessment_id": assessment_ids[0],
                "program_id": "p0",
                "cycle": "2026-12",
                "amount": Decimal("50.00"),
                "currency": "USD",
                "due_date": datetime(2026, 12, 10),
                "settle_by": datetime(2026, 12, 15),
                "idempotency_key": f"bench:{uuid.uuid4()}",
            }
        ],
    }


async def postgres_limit(engine: AsyncEngine, households: int, programs: int) -> float:
    """Households per second for writing their rows in transactions of POSTGRES_BATCH households."""
    tables = {t.name: t for t in (households_table, event_outbox, processed_events, eligibility_assessments, payments)}
    started = time.perf_counter()
    for offset in range(0, households, POSTGRES_BATCH):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for _ in range(min(POSTGRES_BATCH, households - offset)):
            for name, rows in _rows(uuid.uuid4(), programs).items():
                batch[name].extend(rows)
        async with engine.begin() as connection:
            for name in ("households", "event_outbox", "processed_events", "eligibility_assessments", "payments"):
                await connection.execute(insert(tables[name]), batch[name])
    return round(households / (time.perf_counter() - started), 1)


def results_table(results: Results) -> str:
    full, half = results.full_speed, results.half_load
    rows = [
        (
            "saga, full speed",
            f"{full.households_per_second:,.0f} households/s",
            f"p50 {full.latency_p50_ms:,.0f} / p95 {full.latency_p95_ms:,.0f} / p99 {full.latency_p99_ms:,.0f} ms",
        ),
        (
            f"saga, offered {half.offered_per_second or 0:,.0f}/s",
            f"{half.households_per_second:,.0f} households/s",
            f"p50 {half.latency_p50_ms:,.0f} / p95 {half.latency_p95_ms:,.0f} / p99 {half.latency_p99_ms:,.0f} ms",
        ),
        ("Kafka limit (produce + consume)", f"{results.kafka_messages_per_second:,.0f} messages/s", ""),
        ("PostgreSQL limit (batched rows)", f"{results.postgres_households_per_second:,.0f} households/s", ""),
        ("saga / lower limit", f"{results.ratio:.2f}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {rate:>24}  {latency}" for name, rate, latency in rows)


def write_results(results: Results, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"saga-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    document = {**asdict(results), "limit_per_second": results.limit_per_second, "ratio": round(results.ratio, 3)}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
