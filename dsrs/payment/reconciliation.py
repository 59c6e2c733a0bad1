"""Reconciliation: a provider's statement matched against our payments.

Four kinds of mismatch: a statement amount that differs from ours, a reference we never issued,
a reference settled twice, and a payment of ours that has not settled by its deadline. Each one
is stored with the run that found it, and counted.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.schema import MISMATCH_KINDS, payments, reconciliation_mismatches, reconciliation_runs
from dsrs.monitoring.metrics import RECONCILIATION_MISMATCHES as MISMATCHES

STATEMENT_COLUMNS = ("reference", "amount", "currency", "status", "settled_at")

for _kind in MISMATCH_KINDS:
    MISMATCHES.labels(kind=_kind)


class InvalidStatement(ValueError):
    pass


@dataclass(frozen=True)
class StatementLine:
    reference: str
    amount: Decimal
    currency: str
    status: str


@dataclass(frozen=True)
class Mismatch:
    kind: str
    reference: str | None
    payment_id: uuid.UUID | None
    details: dict[str, Any]


@dataclass
class Report:
    run_id: uuid.UUID
    lines: int
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(m.kind for m in self.mismatches))


def parse_line(raw: dict[str, Any], number: int) -> StatementLine:
    try:
        return StatementLine(
            reference=str(raw["reference"]).strip(),
            amount=Decimal(str(raw["amount"]).strip()),
            currency=str(raw["currency"]).strip(),
            status=str(raw["status"]).strip(),
        )
    except (KeyError, InvalidOperation, AttributeError):
        raise InvalidStatement(f"line {number}: needs {', '.join(STATEMENT_COLUMNS)}") from None


def parse_csv(text: str) -> list[StatementLine]:
    reader = csv.DictReader(io.StringIO(text))
    missing = set(STATEMENT_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise InvalidStatement(f"the statement lacks columns: {', '.join(sorted(missing))}")
    return [parse_line(row, number) for number, row in enumerate(reader, start=2)]


def render_csv(lines: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STATEMENT_COLUMNS)
    writer.writeheader()
    for line in lines:
        writer.writerow({name: line[name] for name in STATEMENT_COLUMNS})
    return out.getvalue()


async def reconcile(connection: AsyncConnection, lines: Sequence[StatementLine], source: str, as_of: date) -> Report:
    report = Report(run_id=uuid.uuid4(), lines=len(lines))
    references = [line.reference for line in lines]
    ours = {
        row.provider_reference: row
        for row in await connection.execute(
            select(payments.c.id, payments.c.provider_reference, payments.c.amount).where(
                payments.c.provider_reference.in_(references)
            )
        )
    }
    seen: set[str] = set()
    for line in lines:
        payment = ours.get(line.reference)
        details = {"amount": str(line.amount), "status": line.status}
        if payment is None:
            report.mismatches.append(Mismatch("unknown_reference", line.reference, None, details))
        elif line.reference in seen:
            report.mismatches.append(Mismatch("duplicate_settlement", line.reference, payment.id, details))
        elif line.status == "completed" and line.amount != payment.amount:
            details["expected_amount"] = str(payment.amount)
            report.mismatches.append(Mismatch("amount_mismatch", line.reference, payment.id, details))
        else:
            report.matched += 1
        seen.add(line.reference)
    report.mismatches.extend(await overdue(connection, as_of))
    await _store(connection, report, source)
    return report


async def overdue(connection: AsyncConnection, as_of: date, only_new: bool = False) -> list[Mismatch]:
    """Payments not settled by their deadline; with `only_new`, those no earlier run has recorded."""
    query = select(payments.c.id, payments.c.provider_reference, payments.c.status, payments.c.settle_by).where(
        payments.c.status.in_(("scheduled", "sent")), payments.c.settle_by < as_of
    )
    if only_new:
        recorded = select(reconciliation_mismatches.c.payment_id).where(
            reconciliation_mismatches.c.kind == "unsettled_past_deadline",
            reconciliation_mismatches.c.payment_id == payments.c.id,
        )
        query = query.where(~recorded.exists())
    return [
        Mismatch(
            "unsettled_past_deadline",
            row.provider_reference,
            row.id,
            {"status": row.status, "settle_by": row.settle_by.isoformat()},
        )
        for row in await connection.execute(query)
    ]


# Workers check deadlines on a schedule; one at a time, so that no payment is recorded twice.
DEADLINE_CHECK_LOCK = 0x44535253_0001


async def check_deadlines(connection: AsyncConnection, as_of: date) -> Report | None:
    """A run without a statement: the payments newly past their deadline. None when another worker runs one."""
    if not await connection.scalar(select(func.pg_try_advisory_xact_lock(DEADLINE_CHECK_LOCK))):
        return None
    report = Report(run_id=uuid.uuid4(), lines=0)
    report.mismatches.extend(await overdue(connection, as_of, only_new=True))
    await _store(connection, report, f"deadline check as of {as_of.isoformat()}")
    return report


async def _store(connection: AsyncConnection, report: Report, source: str) -> None:
    await connection.execute(
        insert(reconciliation_runs).values(
            id=report.run_id,
            source=source,
            lines=report.lines,
            matched=report.matched,
            mismatches=len(report.mismatches),
        )
    )
    if report.mismatches:
        await connection.execute(
            insert(reconciliation_mismatches),
            [
                {
                    "run_id": report.run_id,
                    "kind": m.kind,
                    "payment_id": m.payment_id,
                    "reference": m.reference,
                    "details": m.details,
                }
                for m in report.mismatches
            ],
        )


def count_mismatches(report: Report) -> None:
    """Called once the run is committed, so that a rolled-back and retried run is counted once."""
    for kind, count in report.counts().items():
        MISMATCHES.labels(kind=kind).inc(count)


async def mismatches(
    connection: AsyncConnection, limit: int, run_id: uuid.UUID | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    query = select(reconciliation_mismatches).order_by(reconciliation_mismatches.c.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(reconciliation_mismatches.c.run_id == run_id)
    if kind is not None:
        query = query.where(reconciliation_mismatches.c.kind == kind)
    return [dict(row._mapping) for row in await connection.execute(query)]


async def check_deadlines_now(engine: AsyncEngine) -> int:
    """The worker's scheduled deadline check; how many payments it found newly overdue."""
    async with engine.begin() as connection:
        report = await check_deadlines(connection, date.today())
    if report is None:
        return 0
    count_mismatches(report)
    return len(report.mismatches)
