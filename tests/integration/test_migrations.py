"""Alembic builds the whole schema, and the schema matches the code's metadata and enforces its rules."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db import migrations
from dsrs.db.engine import create_engine
from dsrs.db.schema import eligibility_assessments, households, metadata, payments
from dsrs.settings import Settings
from dsrs_dev.bench.environment import with_database
from dsrs_dev.stack.manager import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scratch_settings(stack: Stack, settings: Settings) -> Settings:
    """A database of its own, so that migrating down and up again disturbs no other test."""
    # Named after the tests' database, so that two checkouts' test runs on one stack stay apart.
    database = f"{urlsplit(settings.database_url).path.strip('/')}_migrations"
    stack.postgres.ensure_database(urlsplit(settings.database_url).username or "postgres", database)
    return with_database(settings, database)


@pytest.fixture
async def scratch_engine(scratch_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_settings, pool_size=1)
    yield engine
    await engine.dispose()


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_builds_exactly_the_schema_the_code_declares(
    scratch_settings: Settings, scratch_engine: AsyncEngine
) -> None:
    await migrations.downgrade(scratch_engine, scratch_settings, "base")
    await migrations.upgrade(scratch_engine, scratch_settings)
    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        tables = await connection.run_sync(_tables)
    assert {"households", "event_outbox", "processed_events", "eligibility_assessments", "payments"} <= tables
    state = await migrations.schema_state(scratch_engine, scratch_settings)
    assert state.up_to_date


async def test_downgrade_and_upgrade_again(scratch_settings: Settings, scratch_engine: AsyncEngine) -> None:
    await migrations.upgrade(scratch_engine, scratch_settings)
    await migrations.downgrade(scratch_engine, scratch_settings, "base")
    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(_tables) == {"alembic_version"}
    with pytest.raises(migrations.SchemaBehind, match="run `dsrs db upgrade`"):
        await migrations.require_current_schema(scratch_engine, scratch_settings)
    await migrations.upgrade(scratch_engine, scratch_settings)
    await migrations.require_current_schema(scratch_engine, scratch_settings)


PUBLISHED_EVENT, PENDING_EVENT = uuid.uuid4(), uuid.uuid4()


async def test_upgrading_to_an_outbox_of_pending_events_keeps_those_not_yet_published(
    scratch_settings: Settings, scratch_engine: AsyncEngine
) -> None:
    await migrations.downgrade(scratch_engine, scratch_settings, "base")
    await migrations.upgrade(scratch_engine, scratch_settings, "0006")
    async with scratch_engine.begin() as connection:
        for event_id, published in ((PUBLISHED_EVENT, "now()"), (PENDING_EVENT, "NULL")):
            await connection.execute(
                text(
                    "INSERT INTO event_outbox (event_id, aggregate_id, topic, event_type, message_key, payload, "
                    f"published_at) VALUES (:event_id, 'h', 't', 't', 'h', '{{}}', {published})"
                ),
                {"event_id": event_id},
            )
    await migrations.upgrade(scratch_engine, scratch_settings)
    async with scratch_engine.connect() as connection:
        left = (await connection.execute(text("SELECT event_id FROM event_outbox"))).scalars().all()
    assert left == [PENDING_EVENT]


def _household(**overrides: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "head_of_household_name": "Test Household",
        "region": "R01",
        "household_size": 4,
        "monthly_income": 120,
        **overrides,
    }


async def test_the_database_enforces_its_invariants(engine: AsyncEngine) -> None:
    household = _household()
    assessment_id = uuid.uuid4()
    async with engine.begin() as connection:
        await connection.execute(insert(households).values(**household))
        await connection.execute(
            insert(eligibility_assessments).values(
                id=assessment_id,
                household_id=household["id"],
                household_version=1,
                program_id="cash",
                policy_version="1",
                decision="approved",
                rule_results=[],
                source_event_id=uuid.uuid4(),
            )
        )
    payment = {
        "household_id": household["id"],
        "assessment_id": assessment_id,
        "program_id": "cash",
        "cycle": "2026-12",
        "amount": 50,
        "currency": "USD",
        "due_date": date(2026, 12, 15),
        "settle_by": date(2026, 12, 20),
    }
    key = f"assessment:{assessment_id}"
    async with engine.begin() as connection:
        await connection.execute(insert(payments).values(id=uuid.uuid4(), idempotency_key=key, **payment))

    violations: list[tuple[Any, dict[str, Any]]] = [
        (households, _household(monthly_income=-1)),
        (households, _household(household_size=0)),
        (households, _household(household_size=2, children_5_to_17=3)),
        # A second payment for the same household, program and cycle.
        (payments, {**payment, "id": uuid.uuid4(), "idempotency_key": f"{key}-k2"}),
        # The same idempotency key again.
        (payments, {**payment, "id": uuid.uuid4(), "idempotency_key": key, "cycle": "2027-01"}),
        # A payment for a household that does not exist.
        (payments, {**payment, "id": uuid.uuid4(), "idempotency_key": f"{key}-k3", "household_id": uuid.uuid4()}),
        (
            payments,
            {**payment, "id": uuid.uuid4(), "idempotency_key": f"{key}-k4", "cycle": "2027-02", "status": "lost"},
        ),
    ]
    for table, row in violations:
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(insert(table).values(**row))

    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM payments WHERE household_id = :id"), {"id": household["id"]}
        )
    assert count == 1
