"""Array inserts on the real PostgreSQL: every batch size is the same statement, and JSON lists survive."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, Numeric, Table, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.bulk import arrays, insert_arrays

pytestmark = pytest.mark.integration

COLUMNS = ("id", "amount", "document")


@pytest.fixture
async def table(engine: AsyncEngine) -> AsyncIterator[Table]:
    scratch = Table(
        f"bulk_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("amount", Numeric(14, 2)),
        Column("document", JSONB, nullable=False),
    )
    async with engine.begin() as connection:
        await connection.run_sync(scratch.create)
    yield scratch
    async with engine.begin() as connection:
        await connection.run_sync(scratch.drop)


async def test_batches_of_any_size_are_one_statement_and_keep_their_documents(
    engine: AsyncEngine, table: Table
) -> None:
    statement = insert_arrays(table, COLUMNS).on_conflict_do_nothing().returning(table.c.id)
    batches: list[list[dict[str, Any]]] = [
        [{"id": uuid.uuid4(), "amount": Decimal("12.50"), "document": [{"rule": "a", "passed": True}]}],
        [{"id": uuid.uuid4(), "amount": None, "document": {"n": n, "list": [n, [n]]}} for n in range(3)],
    ]
    async with engine.begin() as connection:
        for batch in batches:
            result = await connection.execute(statement, arrays(table, batch, COLUMNS))
            assert {row.id for row in result} == {row["id"] for row in batch}
        # What this connection had PostgreSQL prepare: one INSERT for both batch sizes.
        prepared = await connection.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :insert"),
            {"insert": f"INSERT INTO {table.name}%"},
        )
        assert prepared.scalar() == 1
        # Inserted again, nothing is new: the conflict clause applies to every row of the array.
        again = await connection.execute(statement, arrays(table, batches[1], COLUMNS))
        assert again.all() == []
        stored = {row.id: (row.amount, row.document) for row in await connection.execute(select(table))}
    assert stored == {row["id"]: (row["amount"], row["document"]) for batch in batches for row in batch}
