"""Opening a payment cycle: one payment for every household eligible under the program at the cut-off
(current assessment approved, household active), with that assessment's benefit, in one INSERT ... SELECT.

The cycle's row is committed first as 'opening'; its payments and their events are written in a second
transaction that ends by marking it 'open'. A crash in between leaves it 'opening', and the next opener
finishes it; the unique keys make writing a payment twice impossible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import payment_cycles
from dsrs.outbox.writer import add_events
from dsrs.payment.events import scheduled_event
from dsrs.rules import Program, parse_cycle

# The current decision of each household under the program (current_decisions, kept by eligibility and
# re-assessment), when it is an approval of an active household.
FILL = text(
    """
    WITH created AS (
        INSERT INTO payments (id, household_id, assessment_id, program_id, cycle, amount, currency, due_date,
                              settle_by, max_attempts, idempotency_key)
        SELECT gen_random_uuid(), c.household_id, c.assessment_id, c.program_id, CAST(:cycle AS text),
               c.benefit_amount, :currency, :due_date, :settle_by, :max_attempts,
               'assessment:' || c.assessment_id || ':' || CAST(:cycle AS text)
        FROM current_decisions c
        JOIN households h ON h.id = c.household_id AND h.status = 'active'
        WHERE c.program_id = :program_id AND c.decision = 'approved' AND c.benefit_amount > 0
        ON CONFLICT DO NOTHING
        RETURNING *
    )
    SELECT created.*, h.region FROM created JOIN households h ON h.id = created.household_id
    """
)


class CycleRefused(ValueError):
    """A cycle that cannot be opened: not one of the program's, or paid in the past."""


@dataclass(frozen=True)
class CycleTerms:
    settlement_days: int
    max_attempts: int
    source: str


@dataclass(frozen=True)
class CycleOpened:
    program_id: str
    cycle: str
    due_date: date
    created: int
    already_open: bool


def cycle_due_date(program: Program, cycle: str, today: date) -> date:
    """The cycle's due date; CycleRefused for a cycle the program does not have, or one in the past."""
    try:
        parse_cycle(cycle)
    except ValueError as error:
        raise CycleRefused(str(error)) from None
    schedule = program.schedule
    if not schedule.is_cycle(cycle):
        every = f"every {schedule.every_months} month(s) from {schedule.first_cycle}"
        raise CycleRefused(f"{cycle} is not a cycle of {program.id} ({every})")
    due = schedule.due_date(cycle)
    if due < today:
        raise CycleRefused(f"cycle {cycle} of {program.id} paid on {due.isoformat()}, in the past")
    return due


def next_cycle(program: Program, today: date) -> str:
    return next(program.schedule.cycles_from(today))[0]


async def open_cycle(
    engine: AsyncEngine, program: Program, cycle: str, today: date, terms: CycleTerms, opened_by: str
) -> CycleOpened:
    due = cycle_due_date(program, cycle, today)
    return await _open(engine, program, cycle, due, terms, opened_by)


async def _open(
    engine: AsyncEngine, program: Program, cycle: str, due: date, terms: CycleTerms, opened_by: str
) -> CycleOpened:
    key = (payment_cycles.c.program_id == program.id, payment_cycles.c.cycle == cycle)
    async with engine.begin() as connection:
        await connection.execute(
            insert(payment_cycles)
            .values(program_id=program.id, cycle=cycle, due_date=due, status="opening", opened_by=opened_by)
            .on_conflict_do_nothing()
        )
    async with engine.begin() as connection:
        # Locked: a second opener waits here, then finds the cycle open.
        status = await connection.scalar(select(payment_cycles.c.status).where(*key).with_for_update())
        if status == "open":
            return CycleOpened(program.id, cycle, due, 0, already_open=True)
        created = (
            await connection.execute(
                FILL,
                {
                    "program_id": program.id,
                    "cycle": cycle,
                    "currency": program.currency,
                    "due_date": due,
                    "settle_by": due + timedelta(days=terms.settlement_days),
                    "max_attempts": terms.max_attempts,
                },
            )
        ).all()
        await add_events(connection, [scheduled_event(row, terms.source) for row in created])
        await connection.execute(
            update(payment_cycles)
            .where(*key)
            .values(
                status="open", opened_at=func.now(), payments_created=payment_cycles.c.payments_created + len(created)
            )
        )
    return CycleOpened(program.id, cycle, due, len(created), already_open=False)


async def open_due_cycles(
    engine: AsyncEngine, programs: Sequence[Program], today: date, open_days: int, terms: CycleTerms
) -> int:
    """Open every cycle due within `open_days` from today, and finish any left 'opening'; how many opened."""
    opened = 0
    async with engine.connect() as connection:
        unfinished = {
            (row.program_id, row.cycle): row.due_date
            for row in await connection.execute(select(payment_cycles).where(payment_cycles.c.status == "opening"))
        }
        done = {
            (row.program_id, row.cycle)
            for row in await connection.execute(
                select(payment_cycles.c.program_id, payment_cycles.c.cycle).where(
                    payment_cycles.c.status == "open", payment_cycles.c.due_date >= today
                )
            )
        }
    horizon = today + timedelta(days=open_days)
    for program in programs:
        for (program_id, cycle), due in unfinished.items():
            if program_id == program.id:
                opened += not (await _open(engine, program, cycle, due, terms, "worker")).already_open
        for cycle, due in program.schedule.cycles_from(today):
            if due > horizon:
                break
            if (program.id, cycle) not in done and (program.id, cycle) not in unfinished:
                opened += not (await _open(engine, program, cycle, due, terms, "worker")).already_open
    return opened
