"""Deploying program versions on the real database: concurrent deploys of one version store it once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.programs.deploy import Deployed, VersionConflict, deploy, retire
from dsrs.rules import DEFAULT_PROGRAMS_DIR

pytestmark = pytest.mark.integration

SHIPPED = (DEFAULT_PROGRAMS_DIR / "child-grant.yaml").read_text()


def program_text(program_id: str, version: str = "1") -> str:
    return SHIPPED.replace("id: child-grant", f"id: {program_id}", 1).replace(
        'version: "2025.1"', f'version: "{version}"', 1
    )


async def _deploy(engine: AsyncEngine, content: str) -> Deployed:
    async with engine.begin() as connection:
        return await deploy(connection, content, "test", datetime.now(UTC), "test")


@pytest.fixture
async def program_id(engine: AsyncEngine) -> AsyncIterator[str]:
    """A program of its own, retired afterwards so that nothing else on this database decides under it."""
    program_id = f"p-{uuid.uuid4().hex[:8]}"
    yield program_id
    async with engine.begin() as connection:
        await retire(connection, program_id, "test", datetime.now(UTC), "test")


async def test_workers_deploying_one_version_together_store_it_once(engine: AsyncEngine, program_id: str) -> None:
    content = program_text(program_id)
    assert content != SHIPPED

    outcomes = await asyncio.gather(*(_deploy(engine, content) for _ in range(4)))

    assert sorted(outcome.created for outcome in outcomes) == [False, False, False, True]
    async with engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT count(*) FROM program_versions WHERE program_id = :p"), {"p": program_id}
        )
        jobs = await connection.scalar(
            text("SELECT count(*) FROM reassessments WHERE program_id = :p"), {"p": program_id}
        )
    assert (stored, jobs) == (1, 1)


async def test_a_version_deployed_together_with_other_content_is_refused_for_one(
    engine: AsyncEngine, program_id: str
) -> None:
    first = program_text(program_id)
    other = first.replace("amount_per_child_5_to_17: 10.0", "amount_per_child_5_to_17: 12.0")
    assert other != first

    outcomes = await asyncio.gather(_deploy(engine, first), _deploy(engine, other), return_exceptions=True)

    assert sum(isinstance(outcome, Deployed) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, VersionConflict) for outcome in outcomes) == 1
