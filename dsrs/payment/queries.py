"""Reads of payments for the API: filtered pages, and one payment with its history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.pages import keyset_page
from dsrs.db.schema import PAYMENT_STATUSES, payment_transitions, payments


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    program_id: str | None = None
    household_id: uuid.UUID | None = None
    due_from: date | None = None
    due_to: date | None = None


async def list_payments(
    connection: AsyncConnection, limit: int, after: uuid.UUID | None, where: PaymentFilter
) -> tuple[list[dict[str, Any]], str | None]:
    conditions: list[ColumnElement[bool]] = []
    if where.status is not None:
        conditions.append(payments.c.status == where.status)
    if where.program_id is not None:
        conditions.append(payments.c.program_id == where.program_id)
    if where.household_id is not None:
        conditions.append(payments.c.household_id == where.household_id)
    if where.due_from is not None:
        conditions.append(payments.c.due_date >= where.due_from)
    if where.due_to is not None:
        conditions.append(payments.c.due_date <= where.due_to)
    return await keyset_page(connection, payments, limit, after, *conditions)


async def get_payment(connection: AsyncConnection, payment_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await connection.execute(select(payments).where(payments.c.id == payment_id))).one_or_none()
    if row is None:
        return None
    history = await connection.execute(
        select(payment_transitions)
        .where(payment_transitions.c.payment_id == payment_id)
        .order_by(payment_transitions.c.id)
    )
    return {**row._mapping, "transitions": [dict(t._mapping) for t in history]}


async def payments_by_status(connection: AsyncConnection) -> dict[str, int]:
    """How many payments are in each state now, every state named (0 when none)."""
    rows = await connection.execute(select(payments.c.status, func.count()).group_by(payments.c.status))
    found = {str(status): int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in PAYMENT_STATUSES}
