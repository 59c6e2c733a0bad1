"""A worker SIGKILLed while it opens a payment cycle: the cycle stays 'opening' with no payment, and the
next worker finishes it with the same payments, none twice."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, settled

pytestmark = pytest.mark.integration

PROGRAM = "cash-transfer"


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    env = {"DSRS_REGIONS": "R01,R02"}
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("cycle-crash"), env) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def _cycle(engine: AsyncEngine, cycle: str) -> tuple[str | None, dict[str, Decimal], int]:
    """The cycle's state, its live payments by household, and how many rows those are."""
    async with engine.connect() as connection:
        state = await connection.scalar(
            text("SELECT status FROM payment_cycles WHERE program_id = :p AND cycle = :c"), {"p": PROGRAM, "c": cycle}
        )
        rows = (
            await connection.execute(
                text(
                    "SELECT household_id, amount FROM payments WHERE program_id = :p AND cycle = :c "
                    "AND status <> 'cancelled'"
                ),
                {"p": PROGRAM, "c": cycle},
            )
        ).all()
    return state, {str(row.household_id): Decimal(row.amount) for row in rows}, len(rows)


async def _opener_waits(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO payments%FROM current_decisions%'"
            )
        )
    return bool(waiting)


async def test_a_worker_killed_while_opening_a_cycle(worker: SagaWorker, engine: AsyncEngine) -> None:
    rng = random.Random(7)
    async with worker.client(Role.REGISTRAR) as client:
        for _ in range(30):
            assert (
                await client.post("/api/v1/households", json=household_fields(rng, ("R01", "R02")))
            ).status_code == 201
    programs = active_programs(load_programs(worker.settings.programs_dir))
    await settled(engine, worker, 30, len(programs))
    program = next(p for p in programs if p.id == PROGRAM)
    upcoming = program.schedule.cycles_from(date.today() + timedelta(days=1))
    first, second = next(upcoming)[0], next(upcoming)[0]
    # The first cycle holds the approvals' payments; the second must be filled entirely by its opening.
    assert run_dsrs("payments", "cycle", "open", PROGRAM, first, env=worker.env).returncode == 0
    _, entitled, _ = await _cycle(engine, first)
    assert entitled, "some households are eligible"

    # Hold the payments table: the worker's opening of the second cycle stops at its INSERT ... SELECT.
    blocker = await engine.connect()
    transaction = await blocker.begin()
    await blocker.execute(text("LOCK TABLE payments IN EXCLUSIVE MODE"))
    try:
        worker.stop()
        worker.extra_env = {
            **worker.extra_env,
            "DSRS_PAYMENT_CYCLE_AUTO_OPEN": "true",
            "DSRS_PAYMENT_CYCLE_OPEN_DAYS": "100",
        }
        worker.start()
        await eventually(lambda: _cycle(engine, second), lambda found: found[0] == "opening")
        await eventually(lambda: _opener_waits(engine), bool)
        worker.kill()
    finally:
        await transaction.rollback()
        await blocker.close()
    state, paid, _ = await _cycle(engine, second)
    assert state == "opening"
    assert paid == {}

    # The next worker finishes the opening: the same list as the first cycle, each household once.
    worker.start()
    state, paid, rows = await eventually(lambda: _cycle(engine, second), lambda found: found[0] == "open")
    assert paid == entitled
    assert rows == len(entitled)
    again = run_dsrs("payments", "cycle", "open", PROGRAM, second, env=worker.env)
    assert "already open: nothing created" in again.stdout
    assert await _cycle(engine, second) == (state, paid, rows)
