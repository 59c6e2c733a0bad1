"""Keyset pages of a table in id order: `after` is the last id of the previous page, no OFFSET."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def keyset_page(
    connection: AsyncConnection,
    table: Table,
    limit: int,
    after: uuid.UUID | None,
    *conditions: ColumnElement[bool],
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` rows with an id after `after` that meet every condition, and the id to continue after."""
    query = select(table).where(*conditions).order_by(table.c.id).limit(limit + 1)
    if after is not None:
        query = query.where(table.c.id > after)
    rows = (await connection.execute(query)).all()
    items = [dict(row._mapping) for row in rows[:limit]]
    return items, (str(items[-1]["id"]) if len(rows) > limit else None)
