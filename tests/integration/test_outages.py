"""Outages of the servers around the saga, on the real stack: the broker stopped for 30 s, the
MongoDB-protocol store stopped for 30 s. The saga finishes as if nothing happened, and the worker's log
tells the broker's outage in a few lines. (30 s is the length of the injected outage, not a timing check.)"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake
from tests.integration.saga import (
    SagaWorker,
    assert_saga_consistent,
    engine_of,
    eventually,
    isolated_worker,
    mongo_kpis,
    postgres_kpis,
    settled,
)

pytestmark = pytest.mark.integration

RUN = 500
REGIONS = ("R01", "R02", "R03", "R04", "R05")


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("outages")) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def _run_through(worker: SagaWorker, engine: AsyncEngine, seed: int, households_before: int) -> None:
    settings = worker.settings
    messages = list(synthetic_intake(RUN, REGIONS, seed=seed, update_share=0.0, invalid_share=0.0))
    await publish_intake(settings, messages, topic=settings.topic(HOUSEHOLD_INTAKE))
    programs = len(active_programs(load_programs(settings.programs_dir)))
    await settled(engine, worker, households_before + RUN, programs)
    await assert_saga_consistent(engine, worker, programs)


def _lines_since(worker: SagaWorker, offset: int) -> list[dict[str, object]]:
    text = worker.log_path.read_text()[offset:]
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def _outage_lines(worker: SagaWorker, offset: int) -> list[str]:
    return [str(line["message"]) for line in _lines_since(worker, offset) if line["logger"] == "dsrs.outages"]


async def test_the_broker_stopped_for_30_seconds(worker: SagaWorker, engine: AsyncEngine, stack: Stack) -> None:
    await _run_through(worker, engine, seed=51, households_before=0)
    offset = len(worker.log_path.read_text())
    stack.kafka.stop()
    await asyncio.sleep(30)
    stack.kafka.start()
    await _run_through(worker, engine, seed=52, households_before=RUN)
    # An outage is over once no client failed for a few seconds: wait until the log says so.
    await eventually(
        lambda: _outage_lines(worker, offset), lambda told: bool(told) and told[-1].startswith("Kafka reachable")
    )
    lines = _lines_since(worker, offset)
    by_logger = Counter(str(line["logger"]) for line in lines if line["level"] in ("warning", "error"))
    outage = await _outage_lines(worker, offset)
    assert outage[0].startswith("Kafka unreachable")
    assert outage[-1].startswith("Kafka reachable again")
    assert sum(by_logger.values()) <= 40, by_logger.most_common(10)


async def test_the_store_of_rollups_stopped_for_30_seconds(
    worker: SagaWorker, engine: AsyncEngine, stack: Stack
) -> None:
    stack.ferretdb.stop()
    try:
        await _run_through(worker, engine, seed=53, households_before=2 * RUN)
        await asyncio.sleep(30)
    finally:
        stack.ferretdb.start()
    await _run_through(worker, engine, seed=54, households_before=3 * RUN)
    # Only the rollups waited: they catch up with PostgreSQL.
    expected = await postgres_kpis(engine)
    assert await eventually(lambda: mongo_kpis(worker.settings), lambda kpis: kpis == expected) == expected
