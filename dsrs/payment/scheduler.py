"""The payment stage's reaction to eligibility and the registry: an approval is paid in the cycles it
joins (dsrs.payment.cycle), and amends its household's unsent payments; a denial cancels them; a household
that left has them cancelled (dsrs.payment.follow)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ARRAY, Text, and_, bindparam, cast, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from dsrs.db.schema import eligibility_assessments, households, payment_cycles, payments, programs
from dsrs.dlq.causes import PROGRAMS
from dsrs.events import topics
from dsrs.events.envelope import Envelope, InvalidEvent, decode_envelope_of
from dsrs.events.ids import new_uuid
from dsrs.events.incoming import Incoming
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.payment.cycle import approval_cycles
from dsrs.payment.events import payment_with_region, scheduled_event
from dsrs.payment.follow import Decided, amend, cancel_denied, cancel_households
from dsrs.programs.catalog import ProgramCatalog
from dsrs.rules import Program
from dsrs.streams.errors import PermanentError
from dsrs.streams.processing import Decoded, claimed, event_id_of

PAYMENT_COLUMNS = (
    "id",
    "household_id",
    "assessment_id",
    "program_id",
    "cycle",
    "amount",
    "currency",
    "due_date",
    "settle_by",
    "max_attempts",
    "idempotency_key",
)
CONSUMED = (topics.ASSESSED_APPROVED, topics.ASSESSED_DENIED, topics.HOUSEHOLD_DEACTIVATED)


def _insert_for_current_active() -> Any:
    """INSERT of unnested rows, only for households still active and assessments still current: an
    approval processed after its household left, or after a newer decision, pays nothing."""
    parameters = [bindparam(name, type_=ARRAY(payments.c[name].type)) for name in PAYMENT_COLUMNS]
    rows = func.unnest(*parameters).table_valued(*PAYMENT_COLUMNS).render_derived()
    this, newer = aliased(eligibility_assessments), aliased(eligibility_assessments)
    superseded = exists().where(
        this.c.id == rows.c.assessment_id,
        newer.c.household_id == rows.c.household_id,
        newer.c.program_id == rows.c.program_id,
        func.row(newer.c.household_version, newer.c.assessed_at)
        > func.row(this.c.household_version, this.c.assessed_at),
    )
    query = (
        select(*(rows.c[name] for name in PAYMENT_COLUMNS))
        .join_from(rows, households, and_(households.c.id == rows.c.household_id, households.c.status == "active"))
        .where(~superseded)
    )
    return (
        insert(payments)
        .from_select(list(PAYMENT_COLUMNS), query)
        # Any unique key: one live payment per household, program and cycle; one per assessment and cycle.
        .on_conflict_do_nothing()
        .returning(cast(payments.c.id, Text).label("id"))
    )


INSERT_PAYMENT = _insert_for_current_active()


def idempotency_key(assessment_id: uuid.UUID | str, cycle: str) -> str:
    """One payment per assessment and cycle, whoever creates it (an approval or a cycle's opening)."""
    return f"assessment:{assessment_id}:{cycle}"


@dataclass(slots=True)
class Decision:
    event_id: str
    assessment_id: uuid.UUID
    household_id: uuid.UUID
    program_id: str
    household_version: int
    approved: bool
    amount: Decimal | None
    currency: str
    traceparent: str | None


@dataclass(slots=True)
class Deactivation:
    event_id: str
    household_id: uuid.UUID
    reason: str


Change = Decision | Deactivation


class PaymentScheduler:
    consumer = "payment"

    def __init__(
        self,
        engine: AsyncEngine,
        catalog: ProgramCatalog,
        source: str,
        max_attempts: int = 5,
        settlement_days: int = 5,
        send_ahead_days: int = 0,
    ) -> None:
        self.engine = engine
        self.catalog = catalog
        self.source = source
        self.max_attempts = max_attempts
        self.settlement_days = timedelta(days=settlement_days)
        self.send_ahead_days = send_ahead_days

    def decode(self, message: Incoming) -> Change:
        return self._change(decode_envelope_of(message.value, *CONSUMED), message.header(TRACEPARENT))

    def item_of(self, event: OutgoingEvent) -> Change | None:
        """The change an event written in the same transaction tells, if it is one payments follow."""
        if event.envelope.type not in CONSUMED:
            return None
        return self._change(event.envelope, event.traceparent)

    def _change(self, envelope: Envelope, traceparent: str | None) -> Change:
        if envelope.type == topics.HOUSEHOLD_DEACTIVATED:
            return self._deactivation(envelope)
        return self._decision(envelope, traceparent)

    def _deactivation(self, envelope: Envelope) -> Deactivation:
        try:
            return Deactivation(
                envelope.event_id, uuid.UUID(str(envelope.data["household_id"])), str(envelope.data["reason"])
            )
        except (KeyError, ValueError):
            raise InvalidEvent("data: household_id and reason are required") from None

    def _decision(self, envelope: Envelope, traceparent: str | None) -> Decision:
        data = envelope.data
        approved = envelope.type == topics.ASSESSED_APPROVED
        try:
            decision = Decision(
                event_id=envelope.event_id,
                assessment_id=uuid.UUID(str(data["assessment_id"])),
                household_id=uuid.UUID(str(data["household_id"])),
                program_id=str(data["program_id"]),
                household_version=int(data["household_version"]),
                approved=approved,
                amount=Decimal(str(data["benefit_amount"])) if approved else None,
                currency=str(data["currency"]),
                traceparent=traceparent,
            )
        except (KeyError, ValueError, TypeError, InvalidOperation):
            raise InvalidEvent(
                "data: assessment_id, household_id, household_version, program_id, benefit_amount and currency "
                "are required"
            ) from None
        if approved and not (decision.amount is not None and decision.amount > 0):
            raise InvalidEvent("data.benefit_amount: an approval must carry a positive amount")
        return decision

    async def _check_deployed(self, connection: AsyncConnection, program_ids: set[str]) -> None:
        """Programs decided under but not current are retired (nothing more is scheduled), or unknown."""
        if not program_ids:
            return
        deployed = set(
            await connection.scalars(select(programs.c.program_id).where(programs.c.program_id.in_(program_ids)))
        )
        unknown = sorted(program_ids - deployed)
        if unknown:
            raise PermanentError(f"program {unknown[0]!r} is not deployed", PROGRAMS)

    async def handle(self, batch: Sequence[Decoded[Change]]) -> None:
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, fresh):
            await add_events(connection, await self.apply(connection, fresh))

    async def apply(self, connection: AsyncConnection, fresh: Sequence[Change]) -> list[OutgoingEvent]:
        """Follow the decisions and departures in the caller's transaction; the payment events to add."""
        # A household's newest decision per program in the batch stands: by household version, since
        # approvals and denials come on two topics and a batch mixes them in no particular order.
        latest: dict[tuple[uuid.UUID, str], Decision] = {}
        # Read in this transaction, as eligibility does: a retired program schedules nothing more.
        current = await self.catalog.active(connection)
        decided = {change.program_id for change in fresh if isinstance(change, Decision)}
        await self._check_deployed(connection, decided - current.keys())
        for change in fresh:
            if isinstance(change, Decision):
                key = (change.household_id, change.program_id)
                if key not in latest or change.household_version >= latest[key].household_version:
                    latest[key] = change
        decisions = list(latest.values())
        approvals = [d for d in decisions if d.approved]
        denials = [d for d in decisions if not d.approved]
        leavers = list(dict.fromkeys(c.household_id for c in fresh if isinstance(c, Deactivation)))
        events = await amend(connection, [_decided(d) for d in approvals], self.source)
        events += await cancel_denied(connection, [_decided(d) for d in denials], self.source)
        events += await self._schedule(connection, [a for a in approvals if a.program_id in current], current)
        events += await cancel_households(connection, leavers, self.source)
        return events

    async def _schedule(
        self, connection: AsyncConnection, approvals: Sequence[Decision], current: Mapping[str, Program]
    ) -> list[OutgoingEvent]:
        if not approvals:
            return []
        today = date.today()
        opened = await self._opened(connection, {a.program_id for a in approvals}, today)
        rows: list[dict[str, Any]] = []
        for approval in approvals:
            schedule = current[approval.program_id].schedule
            for cycle, due in approval_cycles(
                schedule, today, opened.get(approval.program_id, {}), self.send_ahead_days
            ):
                rows.append(self._row(approval, cycle, due))
        if not rows:
            return []
        columns = {name: [row[name] for row in rows] for name in PAYMENT_COLUMNS}
        created = [uuid.UUID(row.id) for row in await connection.execute(INSERT_PAYMENT, columns)]
        if not created:
            return []
        traces = {a.household_id: a.traceparent for a in approvals}
        stored = await connection.execute(payment_with_region().where(payments.c.id.in_(created)))
        return [scheduled_event(row, self.source, traces.get(row.household_id)) for row in stored]

    async def _opened(
        self, connection: AsyncConnection, program_ids: set[str], today: date
    ) -> dict[str, dict[str, date]]:
        """Per program, the cycles already opened (or opening) that pay from today on."""
        rows = await connection.execute(
            select(payment_cycles.c.program_id, payment_cycles.c.cycle, payment_cycles.c.due_date).where(
                payment_cycles.c.program_id.in_(program_ids), payment_cycles.c.due_date >= today
            )
        )
        opened: dict[str, dict[str, date]] = {}
        for program_id, cycle, due in rows:
            opened.setdefault(program_id, {})[cycle] = due
        return opened

    def _row(self, approval: Decision, cycle: str, due_date: date) -> dict[str, Any]:
        return {
            "id": new_uuid(),
            "household_id": approval.household_id,
            "assessment_id": approval.assessment_id,
            "program_id": approval.program_id,
            "cycle": cycle,
            "amount": approval.amount,
            "currency": approval.currency,
            "due_date": due_date,
            "settle_by": due_date + self.settlement_days,
            "max_attempts": self.max_attempts,
            "idempotency_key": idempotency_key(approval.assessment_id, cycle),
        }


def _decided(decision: Decision) -> Decided:
    return Decided(decision.household_id, decision.program_id, decision.assessment_id, decision.amount)
