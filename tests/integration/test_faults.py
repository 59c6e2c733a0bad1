"""Faults in the middle of a run: PostgreSQL down for 20 seconds, and a worker killed with SIGKILL.

After recovery every household has its assessments and payments, none twice, and the KPI summary
still equals PostgreSQL. (The 20 seconds is the length of the injected outage, not a timing check.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import households
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake
from tests.integration.saga import SagaWorker, assert_saga_consistent, engine_of, eventually, isolated_worker, settled

pytestmark = pytest.mark.integration

RUN = 2000
REGIONS = ("R01", "R02", "R03", "R04", "R05")


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("faults")) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def _households(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(households)) or 0)


async def _run_with_fault(worker: SagaWorker, engine: AsyncEngine, seed: int, fault: str, stack: Stack) -> None:
    settings = worker.settings
    before = await _households(engine)
    messages = list(synthetic_intake(RUN, REGIONS, seed=seed, update_share=0.0, invalid_share=0.0))
    publishing = asyncio.create_task(publish_intake(settings, messages, topic=settings.topic(HOUSEHOLD_INTAKE)))
    # Strike in the middle: once a fifth of the run is in.
    await eventually(lambda: _households(engine), lambda count: count >= before + RUN // 5)
    if fault == "postgres":
        stack.postgres.stop()
        await asyncio.sleep(20)
        stack.postgres.start()
    else:
        worker.kill()
        worker.start()
    await publishing
    programs = len(active_programs(load_programs(settings.programs_dir)))
    await settled(engine, worker, before + RUN, programs)
    assert await _households(engine) == before + RUN
    await assert_saga_consistent(engine, worker, programs)


async def test_postgres_down_for_20_seconds_mid_run(worker: SagaWorker, engine: AsyncEngine, stack: Stack) -> None:
    await _run_with_fault(worker, engine, seed=41, fault="postgres", stack=stack)


async def test_worker_killed_with_sigkill_mid_run(worker: SagaWorker, engine: AsyncEngine, stack: Stack) -> None:
    await _run_with_fault(worker, engine, seed=42, fault="kill", stack=stack)
