"""The re-assessment benchmark's pieces at a tiny size: the COPY fill, the v2 job over it, and the limit's
predecided steps on a copy, each going through every household once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from dsrs.db.engine import create_engine
from dsrs.eligibility.reassessment import Reassessor
from dsrs.programs.catalog import ProgramCatalog
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.bench.environment import isolated_database, with_database
from dsrs_dev.bench.reassess import (
    PROGRAM_ID,
    V2_VERSION,
    copy_database,
    deploy_v2,
    fill_registry,
    job_row,
    reassess_limit,
)
from dsrs_dev.stack.manager import Stack

pytestmark = pytest.mark.integration

HOUSEHOLDS = 200
PAGE_SIZE = 64

FLIPS = text(
    "SELECT count(*) FILTER (WHERE a1.decision = 'approved' AND a2.decision = 'denied') AS approved_to_denied, "
    "count(*) FILTER (WHERE a1.decision = 'denied' AND a2.decision = 'approved') AS denied_to_approved "
    "FROM eligibility_assessments a1 JOIN eligibility_assessments a2 USING (household_id, program_id) "
    "WHERE a1.program_id = :program AND a1.policy_version = '2025.1' AND a2.policy_version = :version"
)


async def _filled(settings: Settings) -> dict[str, int]:
    await fill_registry(settings, HOUSEHOLDS, seed=3)
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as connection:
            counts = {
                table: int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
                for table in ("households", "household_facts", "eligibility_assessments", "current_decisions")
            }
            running = (
                await connection.execute(text("SELECT count(*) FROM reassessments WHERE status = 'running'"))
            ).scalar_one()
            counts["running_jobs"] = int(running)
    finally:
        await engine.dispose()
    return counts


async def _reassessed(settings: Settings) -> tuple[Any, Any]:
    """Deploy v2 and step the job in this process, as a worker would."""
    engine = create_engine(settings, pool_size=1)
    try:
        job = await deploy_v2(engine, settings)
        reassessor = Reassessor(engine, ProgramCatalog(), settings.source_name, PAGE_SIZE)
        while await reassessor.step():
            pass
        async with engine.connect() as connection:
            row = await job_row(connection, job)
            flips = (await connection.execute(FLIPS, {"program": PROGRAM_ID, "version": V2_VERSION})).one()
    finally:
        await engine.dispose()
    return row, flips


def test_the_filled_registry_is_reassessed_once_and_the_limit_walks_the_same_pages(
    stack: Stack, settings: Settings
) -> None:
    programs = len(active_programs(load_programs(settings.programs_dir)))
    with isolated_database(stack, settings, "dsrs_test_reassess") as database:
        filled = with_database(settings, database)
        counts = asyncio.run(_filled(filled))
        copy = f"{database}_limit"
        asyncio.run(copy_database(filled, database, copy))
        try:
            row, flips = asyncio.run(_reassessed(filled))
            done, rate = asyncio.run(reassess_limit(with_database(settings, copy), HOUSEHOLDS, PAGE_SIZE))
        finally:
            stack.postgres.drop_database(copy)

    # Every household with its facts and one decision per shipped program; the shipped programs' own jobs done.
    assert counts == {
        "households": HOUSEHOLDS,
        "household_facts": HOUSEHOLDS,
        "eligibility_assessments": HOUSEHOLDS * programs,
        "current_decisions": HOUSEHOLDS * programs,
        "running_jobs": 0,
    }
    assert row.status == "finished"
    assert row.done == HOUSEHOLDS
    assert row.failed == 0
    # The job's counts are the decisions it changed, as the stored assessments show them.
    assert (row.approved_to_denied, row.denied_to_approved) == (flips.approved_to_denied, flips.denied_to_approved)
    # A lower poverty line only takes households out.
    assert row.denied_to_approved == 0
    assert row.benefit_changed == 0
    # The limit walks the same households on the copy (the job of the copy still runs: nothing else is there).
    assert done == HOUSEHOLDS
    assert rate > 0
