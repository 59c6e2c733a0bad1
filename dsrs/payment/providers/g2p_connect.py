"""The G2P Connect disbursement adapter: `disburse` for each attempt, its asynchronous `on-disburse`
callback (dsrs.web.g2p), and `disburse/status` for attempts whose callback has not come.

Each settled status becomes the same `payment.provider.settlement` event the simulator publishes, so the
settlement stage applies it (state, retries, mismatches) whichever way it arrived. A status for a
reference DSRS never issued, or with an amount other than the order's, is recorded as a reconciliation
mismatch instead.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import payments, reconciliation_mismatches
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.payment.providers.base import PaymentOrder, Receipt
from dsrs.payment.providers.g2p_messages import (
    DisbursementStatus,
    Parties,
    disburse_request,
    status_reply_statuses,
    status_request,
)

SOURCE = "g2p-connect"
# A resubmitted attempt (after a crash) is refused as a duplicate: it was accepted the first time.
DUPLICATE = "rjct.reference_id.duplicate"


class DisburseRefused(RuntimeError):
    """The G2P API did not acknowledge a disbursement; the dispatcher tries again later."""


@dataclass
class Accepted:
    published: int = 0
    unknown: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


async def accept_statuses(
    engine: AsyncEngine, producer: AIOKafkaProducer, topic: str, statuses: Sequence[DisbursementStatus]
) -> Accepted:
    """Publish a settlement for each settled status of a known disbursement with the order's amount;
    record the others as mismatches."""
    accepted = Accepted()
    settled = [s for s in statuses if s.outcome is not None]
    if not settled:
        return accepted
    columns = (payments.c.id, payments.c.provider_reference, payments.c.amount, payments.c.currency)
    async with engine.begin() as connection:
        references = [s.reference_id for s in settled]
        found = await connection.execute(select(*columns).where(payments.c.provider_reference.in_(references)))
        ours = {row.provider_reference: row for row in found}
        # A fast provider can call back before the dispatcher has committed the attempt: the payment's row
        # lock waits for that commit, after which the reference is there.
        in_flight = [pid for ref in references if ref not in ours and (pid := _payment_id(ref)) is not None]
        if in_flight:
            locked = await connection.execute(select(*columns).where(payments.c.id.in_(in_flight)).with_for_update())
            ours |= {row.provider_reference: row for row in locked if row.provider_reference in references}
        deliveries = []
        for status in settled:
            payment = ours.get(status.reference_id)
            details: dict[str, Any] = {"amount": None if status.amount is None else str(status.amount)}
            details |= {"status": status.outcome, "source": SOURCE}
            if payment is None:
                accepted.unknown.append(status.reference_id)
                await _mismatch(connection, "unknown_reference", details, None, status.reference_id)
                continue
            if status.amount is not None and status.amount != payment.amount:
                accepted.mismatched.append(status.reference_id)
                details["expected_amount"] = str(payment.amount)
                await _mismatch(connection, "amount_mismatch", details, payment.id, status.reference_id)
                continue
            data = {
                "reference": status.reference_id,
                "payment_id": str(payment.id),
                "status": status.outcome,
                "amount": str(payment.amount if status.amount is None else status.amount),
                "currency": status.currency or payment.currency,
                "settled_at": status.timestamp.isoformat(),
                "reason": status.reason,
            }
            envelope = new_envelope(topics.PROVIDER_SETTLEMENT, str(payment.id), data, SOURCE)
            deliveries.append(
                await producer.send(
                    topic,
                    envelope.to_wire(),
                    key=str(payment.id).encode(),
                    headers=[("traceparent", new_traceparent().encode())],
                )
            )
        # The mismatches commit only once the settlements are on the broker: a retried callback adds no
        # second settlement, since the settlement stage records a second one as a duplicate.
        await asyncio.gather(*deliveries)
        accepted.published = len(deliveries)
    return accepted


def _payment_id(reference: str) -> uuid.UUID | None:
    """DSRS's references are its attempts' idempotency keys, `PAYMENT_ID:ATTEMPT`."""
    try:
        return uuid.UUID(reference.partition(":")[0])
    except ValueError:
        return None


async def _mismatch(connection: Any, kind: str, details: dict[str, Any], payment_id: Any, reference: str) -> None:
    await connection.execute(
        reconciliation_mismatches.insert().values(
            kind=kind, payment_id=payment_id, reference=reference, details=details
        )
    )


class G2PConnectProvider:
    source = SOURCE

    def __init__(
        self,
        engine: AsyncEngine,
        base_url: str,
        parties: Parties,
        access_token: str | None,
        status_after_seconds: float,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.base_url = base_url.rstrip("/")
        self.parties = parties
        self.headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        self.status_after = timedelta(seconds=status_after_seconds)
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # Status requests are made at most this often, whatever the worker's duty loop does.
        self.poll_every = max(1.0, status_after_seconds / 10)
        self._next_poll = 0.0

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with (
            aiohttp.ClientSession(timeout=self.timeout, headers=self.headers) as session,
            session.post(f"{self.base_url}{path}", json=body) as response,
        ):
            if response.status >= 400:
                raise DisburseRefused(f"G2P {path}: HTTP {response.status}")
            return await response.json()

    async def submit(self, order: PaymentOrder) -> Receipt:
        answer = await self._post("/disburse", disburse_request(order, self.parties))
        message = answer.get("message") if isinstance(answer, dict) else None
        status = message.get("ack_status") if isinstance(message, dict) else None
        if status != "ACK":
            error = (message or {}).get("error") or {}
            if not (isinstance(error, dict) and error.get("code") == DUPLICATE):
                raise DisburseRefused(f"G2P disburse {order.idempotency_key}: {status} {error}")
        return Receipt(order.idempotency_key)

    async def report_due(self, producer: AIOKafkaProducer, topic: str, limit: int = 100) -> int:
        """Ask disburse/status about attempts sent `status_after` ago without a callback; publish what settled."""
        if time.monotonic() < self._next_poll:
            return 0
        self._next_poll = time.monotonic() + self.poll_every
        async with self.engine.connect() as connection:
            references = list(
                await connection.scalars(
                    select(payments.c.provider_reference)
                    .where(
                        payments.c.status == "sent",
                        payments.c.provider_reference.is_not(None),
                        payments.c.updated_at < datetime.now(UTC) - self.status_after,
                    )
                    .order_by(payments.c.updated_at)
                    .limit(limit)
                )
            )
        if not references:
            return 0
        reply = await self._post("/disburse/status", status_request([str(r) for r in references], self.parties))
        accepted = await accept_statuses(self.engine, producer, topic, status_reply_statuses(reply))
        return accepted.published
