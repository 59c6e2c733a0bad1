"""`dsrs bench saga`: the saga's throughput and latency, beside the Kafka and PostgreSQL limits of the same
machine, in rounds that alternate the saga and the limits.

Each round, on a deployment of its own:

1. saga: a warm-up, then N households published as fast as the broker takes them; households per second
   from the first intake message to the last `payment.scheduled`, and end-to-end latency (intake time to the
   household's last `payment.scheduled`) at full speed and at a fixed offered load of half of that;
2. the Kafka limit (dsrs_dev.bench.kafka_limit): the messages the saga produced and consumed per household in
   (1), produced and consumed back with aiokafka;
3. the Faust dispatch limit: a do-nothing agent reading N intake messages;
4. the PostgreSQL limit (dsrs_dev.bench.postgres_limit): the saga's own transactions for the same N
   households, on fresh databases, one connection per stage and one for the relay.

The figures are the median and spread (lowest, highest) of the rounds; the ratio is each round's saga over
the lower of its two limits.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from dsrs.events import topics
from dsrs.kafka.lag import consumer_lag, topic_depths
from dsrs.settings import Settings
from dsrs.worker.agents import CONSUMED_TOPICS
from dsrs_dev.bench.environment import delete_topics_of
from dsrs_dev.bench.kafka_limit import KafkaLimit, deployment_depths
from dsrs_dev.bench.memory import MemoryProfile, MemorySample
from dsrs_dev.bench.postgres_limit import PostgresLimit
from dsrs_dev.partner import publish_intake
from dsrs_dev.progress import advancer
from dsrs_dev.saga_status import saga_status
from dsrs_dev.synthetic import IntakeMessage, synthetic_intake


@dataclass
class SagaRun:
    households: int
    offered_per_second: float | None
    seconds: float
    households_per_second: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    # Every message the run added to the deployment's topics (intake, saga events, re-keyed analytics
    # bundles, table changelogs), per household: what the saga produces.
    kafka_messages_per_household: float
    # Of those, the messages on the topics the agents read: what the saga consumes.
    consumed_messages_per_household: float = 0.0
    # Per topic of the deployment, messages per household.
    topic_messages_per_household: dict[str, float] = field(default_factory=dict)


@dataclass
class Round:
    """One saga run beside the limits measured right after it."""

    full_speed: SagaRun
    half_load: SagaRun
    kafka: KafkaLimit
    postgres: PostgresLimit
    # A do-nothing Faust agent's rate over N intake messages: with the messages a household costs the agents,
    # the most this worker could do if its stages did no work at all.
    faust_messages_per_second: float
    faust_cpu_microseconds_per_message: float
    memory: MemoryProfile | None = None
    # The worker's resident memory against the events it had processed, every couple of seconds.
    memory_samples: list[MemorySample] = field(default_factory=list)
    # CPU a household at full speed, by kind of process (dsrs_dev.bench.cpu), and their total.
    cpu_microseconds_per_household: dict[str, float] = field(default_factory=dict)

    @property
    def faust_households_per_second(self) -> float:
        return self.faust_messages_per_second / self.full_speed.consumed_messages_per_household

    @property
    def limit_per_second(self) -> float:
        return min(self.kafka.households_per_second, self.postgres.households_per_second)

    @property
    def ratio(self) -> float:
        return self.full_speed.households_per_second / self.limit_per_second


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


# The figures reported for the rounds together, and how each is read from a round.
FIGURES: dict[str, Callable[[Round], float]] = {
    "households_per_s": lambda r: r.full_speed.households_per_second,
    "p50_half_load_s": lambda r: r.half_load.latency_p50_ms / 1000,
    "p99_half_load_s": lambda r: r.half_load.latency_p99_ms / 1000,
    "kafka_limit_households_per_s": lambda r: r.kafka.households_per_second,
    "postgres_limit_households_per_s": lambda r: r.postgres.households_per_second,
    "faust_households_per_s": lambda r: r.faust_households_per_second,
    "ratio": lambda r: r.ratio,
    "cpu_us_per_household": lambda r: r.cpu_microseconds_per_household.get("total", float("nan")),
}


@dataclass
class Results:
    machine: dict[str, Any]
    households: int
    workers: int
    # Households through the saga before each full-speed run, not measured: connections, the broker's JIT.
    warm_up_households: int
    rounds: list[Round]

    def spread(self, figure: str) -> Spread:
        return Spread.of([FIGURES[figure](r) for r in self.rounds])

    @property
    def ratio(self) -> float:
        return self.spread("ratio").median


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
            assert message.time is not None, "every benchmark message is a valid event"
            self.submitted[message.household_id] = message.time
            yield message


async def wait_settled(
    engine: AsyncEngine, settings: Settings, households_in_intake: int, households: int, programs: int
) -> None:
    """Wait until the saga has done everything; meanwhile poll only what costs the stack next to nothing.

    The full status query joins whole tables: polled, it would take PostgreSQL's CPU from the saga being
    measured, so it runs only once nothing is pending."""
    consumed = [settings.topic(t) for t in CONSUMED_TOPICS]
    intake = settings.topic(topics.HOUSEHOLD_INTAKE)
    with tqdm(total=households_in_intake, desc="taken in", unit="household", leave=False) as progress:
        while True:
            lag = await consumer_lag(settings.bootstrap_servers, settings.app_id, consumed)
            behind = sum(lag.values())
            # Every intake message is on the broker by now: what is not behind has been taken in.
            progress.n = households_in_intake - sum(n for tp, n in lag.items() if tp.topic == intake)
            progress.refresh()
            if behind == 0 and (await saga_status(engine)).settled(households, programs):
                return
            await asyncio.sleep(1.0)


async def payment_times(settings: Settings) -> dict[str, datetime]:
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
    already = (await payment_times(settings)).keys()
    depths_before = await deployment_depths(settings)
    before = (await saga_status(engine)).households
    intake = settings.topic(topics.HOUSEHOLD_INTAKE)
    already_in = (await topic_depths(settings.bootstrap_servers, [intake])).get(intake, 0)
    clock = IntakeClock(households, settings.regions, seed)
    label = "published" if per_second is None else f"published at {per_second:.0f}/s"
    with tqdm(total=households, desc=label, unit="household") as progress:
        await publish_intake(
            settings,
            clock,
            advancer(progress),
            topic=settings.topic(topics.HOUSEHOLD_INTAKE),
            per_second=per_second,
        )
    await wait_settled(engine, settings, already_in + households, before + households, programs)
    added = {name: depth - depths_before.get(name, 0) for name, depth in (await deployment_depths(settings)).items()}
    consumed = {settings.topic(name) for name in CONSUMED_TOPICS}
    paid = {h: t for h, t in (await payment_times(settings)).items() if h not in already and h in clock.submitted}
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
        kafka_messages_per_household=round(sum(added.values()) / households, 2),
        consumed_messages_per_household=round(sum(n for t, n in added.items() if t in consumed) / households, 2),
        topic_messages_per_household={t: round(n / households, 4) for t, n in sorted(added.items()) if n > 0},
    )


def _figure(spread: Spread, unit: str, digits: int = 0) -> str:
    return f"{spread.median:,.{digits}f}{unit} ({spread.low:,.{digits}f}-{spread.high:,.{digits}f})"


def results_table(results: Results) -> str:
    """The median of each figure over the rounds, with its lowest and highest in brackets."""
    first = results.rounds[0]
    full, kafka, postgres = first.full_speed, first.kafka, first.postgres
    rows = [
        ("rounds (saga, then its limits)", f"{len(results.rounds)}", "median (lowest-highest)"),
        ("warm-up each round (not measured)", f"{results.warm_up_households:,} households", ""),
        ("saga, full speed", _figure(results.spread("households_per_s"), " households/s"), ""),
        (
            "saga at half of full speed",
            "p50 " + _figure(results.spread("p50_half_load_s"), " s", 2),
            "p99 " + _figure(results.spread("p99_half_load_s"), " s", 2),
        ),
        (
            "Kafka limit (produce + consume)",
            _figure(results.spread("kafka_limit_households_per_s"), " households/s"),
            f"{full.kafka_messages_per_household:.2f} produced, {full.consumed_messages_per_household:.2f} consumed "
            f"a household; {kafka.messages_per_second:,.0f} messages/s in round 1",
        ),
        (
            "PostgreSQL limit (the saga's statements)",
            _figure(results.spread("postgres_limit_households_per_s"), " households/s"),
            f"{postgres.transactions:,} transactions, {postgres.statements:,} statements, "
            f"{postgres.connections} connections in round 1",
        ),
        (
            "Faust dispatch (no-op agent)",
            _figure(results.spread("faust_households_per_s"), " households/s"),
            f"{first.faust_messages_per_second:,.0f} messages/s, {first.faust_cpu_microseconds_per_message:.0f} µs "
            f"CPU a message in round 1",
        ),
        ("saga / lower limit", _figure(results.spread("ratio"), "", 2), ""),
        (
            "CPU a household at full speed",
            _figure(results.spread("cpu_us_per_household"), " µs"),
            ", ".join(f"{kind} {us:,.0f}" for kind, us in first.cpu_microseconds_per_household.items())
            + " µs, round 1",
        ),
    ]
    memory = first.memory
    if memory is not None:
        rows.append(
            (
                "worker + relay memory (round 1)",
                f"{memory.warm_rss_mib:,.0f} -> {memory.last_rss_mib:,.0f} MiB",
                f"from {memory.warm_events:,} to {memory.last_events:,} events; peak {memory.peak_rss_mib:,.0f} MiB",
            )
        )
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {rate:>44}  {detail}".rstrip() for name, rate, detail in rows)


def results_path(folder: Path) -> Path:
    return folder / f"saga-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


def write_results(results: Results, folder: Path, path: Path | None = None) -> Path:
    """The medians at the top (`households_per_s`, `ratio`, `p99_half_load_s`, ...), each figure's spread,
    and every round in full; to `path` (written again as rounds are added), or to a new file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = path or results_path(folder)
    spreads = {name: results.spread(name) for name in FIGURES}
    document = {
        **{name: round(spread.median, 3) for name, spread in spreads.items()},
        "spread": {name: [round(spread.low, 3), round(spread.high, 3)] for name, spread in spreads.items()},
        "machine": results.machine,
        "households": results.households,
        "workers": results.workers,
        "warm_up_households": results.warm_up_households,
        "rounds": [
            {
                **asdict(r),
                "faust_households_per_second": round(r.faust_households_per_second, 1),
                "limit_per_second": round(r.limit_per_second, 1),
                "ratio": round(r.ratio, 3),
            }
            for r in results.rounds
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def faust_dispatch_limit(settings: Settings, topic: str, messages: int, folder: Path) -> dict[str, Any]:
    """Messages per second, CPU per message and the batch sizes of a do-nothing Faust agent reading `topic`."""
    result = folder / "dispatch.json"
    app_id = f"dsrs-dispatch-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DSRS_DISPATCH_APP_ID": app_id,
        "DSRS_DISPATCH_BROKER": settings.bootstrap_servers,
        "DSRS_DISPATCH_TOPIC": topic,
        "DSRS_DISPATCH_COUNT": str(messages),
        "DSRS_DISPATCH_RESULT": str(result),
        "DSRS_DISPATCH_DATADIR": str(folder / "dispatch-data"),
    }
    # On the worker's event loop (faust_app.py), so that the figure is the cost the worker pays.
    faust = [sys.executable, "-m", "faust", "--loop", "uvloop", "-A", "dsrs_dev.bench.dispatch"]
    command = [*faust, "worker", "-l", "warn", "--without-web"]
    try:
        with (folder / "dispatch.log").open("wb") as log:
            subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False)
    finally:
        # Its app's own topics (the assignor's) would otherwise pile up on the broker, one a run.
        delete_topics_of(settings.model_copy(update={"topic_prefix": f"{app_id}.", "app_id": app_id}))
    if not result.exists():
        raise RuntimeError(f"the dispatch benchmark wrote no result; see {folder / 'dispatch.log'}")
    figures: dict[str, Any] = json.loads(result.read_text())
    return figures
