"""Reads of payment cycles for the API: each cycle's state, and its payments' count and total by status."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import PAYMENT_STATUSES, payment_cycles, payments
from dsrs.rules import Program

# Every status but cancelled is money the cycle pays (or tried to): its entitlement.
PAYABLE = tuple(status for status in PAYMENT_STATUSES if status != "cancelled")


async def cycles(connection: AsyncConnection, program: Program, cycle: str | None = None) -> list[dict[str, Any]]:
    """The program's cycles, newest first: those opened and those that only have payments (from approvals)."""
    states = select(payment_cycles).where(payment_cycles.c.program_id == program.id)
    totals = (
        select(payments.c.cycle, payments.c.status, func.count(), func.coalesce(func.sum(payments.c.amount), 0))
        .where(payments.c.program_id == program.id)
        .group_by(payments.c.cycle, payments.c.status)
    )
    if cycle is not None:
        states = states.where(payment_cycles.c.cycle == cycle)
        totals = totals.where(payments.c.cycle == cycle)
    found: dict[str, dict[str, Any]] = {}
    for row in await connection.execute(states):
        found[row.cycle] = _cycle(program, row.cycle) | {
            "state": row.status,
            "cutoff_at": row.cutoff_at,
            "opened_at": row.opened_at,
            "opened_by": row.opened_by,
        }
    for name, status, count, amount in await connection.execute(totals):
        entry = found.setdefault(name, _cycle(program, name))
        entry["by_status"][status] = {"count": int(count), "amount": Decimal(amount)}
    for entry in found.values():
        payable = [entry["by_status"][status] for status in PAYABLE]
        entry["count"] = sum(part["count"] for part in payable)
        entry["total"] = sum((part["amount"] for part in payable), Decimal("0.00"))
    return [found[name] for name in sorted(found, reverse=True)]


def _cycle(program: Program, cycle: str) -> dict[str, Any]:
    return {
        "program_id": program.id,
        "cycle": cycle,
        "due_date": program.schedule.due_date(cycle),
        "currency": program.currency,
        "state": "not_opened",
        "cutoff_at": None,
        "opened_at": None,
        "opened_by": None,
        "by_status": {status: {"count": 0, "amount": Decimal("0.00")} for status in PAYMENT_STATUSES},
    }
