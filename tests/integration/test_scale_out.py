"""Several workers and several brokers on the real stack: a worker SIGKILLed among three, a broker
SIGKILLed among three, a worker started against a broker with none of its topics. Each run ends with
every household decided once per program, every approval paid once, every worker's KPIs equal to
PostgreSQL, and no dead letter but the invalid input's."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dsrs.db.engine import create_engine
from dsrs.db.schema import households
from dsrs.dlq.replay import read_dead_letters
from dsrs.events.topics import DEAD_LETTER_TOPICS, HOUSEHOLD_INTAKE
from dsrs.kafka.lag import consumer_lag
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs.worker.agents import CONSUMED_TOPICS
from dsrs_dev.bench.environment import delete_topics_of, isolated_database, isolated_settings, start_workers
from dsrs_dev.partner import publish_intake
from dsrs_dev.saga_status import saga_status
from dsrs_dev.stack.kafka import KafkaCluster
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import IntakeMessage, synthetic_intake
from dsrs_dev.worker_process import WorkerProcess, worker_env
from tests.integration.saga import SagaWorker, assert_saga_consistent, eventually

pytestmark = pytest.mark.integration

RUN = 1500
REGIONS = ("R01", "R02", "R03", "R04", "R05")
CLUSTER_PORT = 19092


@contextmanager
def deployment(
    stack: Stack, settings: Settings, folder: Path, workers: int, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[Settings, list[WorkerProcess]]]:
    """A database, topics and consumer group of its own, and `workers` workers on them."""
    with isolated_database(stack, settings, "dsrs_scale") as database:
        own = isolated_settings(settings, database, folder / "worker-0", tag=f"test-{uuid.uuid4().hex[:8]}")
        try:
            running = start_workers(own, workers, folder, extra_env or {})
            try:
                yield own, running
            finally:
                for worker in running:
                    worker.stop()
        finally:
            delete_topics_of(own)


def _intake(seed: int) -> list[IntakeMessage]:
    return list(synthetic_intake(RUN, REGIONS, seed=seed, update_share=0.05, invalid_share=0.02))


async def _households(settings: Settings) -> int:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(households)) or 0)
    finally:
        await engine.dispose()


async def _assert_settled_and_consistent(
    settings: Settings, workers: list[WorkerProcess], sent: list[IntakeMessage]
) -> None:
    registered = len({m.household_id for m in sent if m.valid})
    programs = len(active_programs(load_programs(settings.programs_dir)))
    topics = [settings.topic(name) for name in CONSUMED_TOPICS]
    engine = create_engine(settings, pool_size=2)
    try:

        async def probe() -> tuple[bool, int]:
            status = await saga_status(engine)
            lags = await consumer_lag(settings.bootstrap_servers, settings.app_id, topics)
            return status.settled(registered, programs), sum(lags.values())

        await eventually(probe, lambda seen: seen[0] and seen[1] == 0)
        for worker in workers:
            # Every worker answers the same KPIs, equal to PostgreSQL.
            await assert_saga_consistent(engine, SagaWorker(worker.settings, worker.log_path), programs)
    finally:
        await engine.dispose()
    letters = await read_dead_letters(settings.bootstrap_servers, [settings.topic(n) for n in DEAD_LETTER_TOPICS])
    # A worker killed between dead-lettering a message and committing its offset leaves its successor to
    # dead-letter it again: the same original, twice. What counts is which originals are letters.
    originals = {
        (letter.reason("original-topic"), letter.reason("original-offset"), letter.reason("original-partition"))
        for letter in letters
    }
    assert {topic for topic, _, _ in originals} == {settings.topic(HOUSEHOLD_INTAKE)}
    assert {letter.value for letter in letters} == {m.value for m in sent if not m.valid}
    assert len(originals) == sum(1 for m in sent if not m.valid)


@pytest.fixture
def three_workers(stack: Stack, settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, list[WorkerProcess]]]:
    with deployment(stack, settings, tmp_path, workers=3) as running:
        yield running


async def test_three_workers_one_killed_mid_run(three_workers: tuple[Settings, list[WorkerProcess]]) -> None:
    own, workers = three_workers
    sent = _intake(seed=61)
    publishing = asyncio.create_task(publish_intake(own, sent, topic=own.topic(HOUSEHOLD_INTAKE)))
    await eventually(lambda: _households(own), lambda count: count >= RUN // 5)
    victim = workers[1]
    victim.kill()
    # The others take over its partitions; it comes back on its own data folder and port.
    workers[1] = WorkerProcess(victim.settings, victim.log_path, env=worker_env(victim.settings))
    workers[1].start()
    await asyncio.to_thread(workers[1].wait_ready)
    await publishing
    await _assert_settled_and_consistent(own, workers, sent)


@pytest.fixture
def three_brokers(settings: Settings, tmp_path: Path) -> Iterator[KafkaCluster]:
    """A cluster of three brokers of its own, beside the stack's, sharing its installed jars."""
    cache = tmp_path / "kafka-cache"
    cache.mkdir()
    (cache / "dist").symlink_to(settings.cache_dir / "dist")
    cluster = KafkaCluster(cache, CLUSTER_PORT, 3)
    cluster.start()
    try:
        yield cluster
    finally:
        for node in cluster.nodes:
            node.stop()


@pytest.fixture
def worker_on_three_brokers(
    stack: Stack, settings: Settings, tmp_path: Path, three_brokers: KafkaCluster
) -> Iterator[tuple[Settings, list[WorkerProcess]]]:
    on_cluster = settings.model_copy(
        update={"kafka_url": f"kafka://127.0.0.1:{CLUSTER_PORT}", "topic_replication_factor": 3}
    )
    with deployment(stack, on_cluster, tmp_path / "workers", workers=1) as running:
        yield running


async def test_three_brokers_one_killed_mid_run(
    three_brokers: KafkaCluster, worker_on_three_brokers: tuple[Settings, list[WorkerProcess]]
) -> None:
    own, workers = worker_on_three_brokers
    sent = _intake(seed=62)
    publishing = asyncio.create_task(publish_intake(own, sent, topic=own.topic(HOUSEHOLD_INTAKE)))
    await eventually(lambda: _households(own), lambda count: count >= RUN // 5)
    victim = three_brokers.nodes[2]
    pid = victim.read_pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    await publishing
    await _assert_settled_and_consistent(own, workers, sent)
