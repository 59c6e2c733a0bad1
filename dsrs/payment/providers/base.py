"""The interface a payment provider adapter implements, and the orders DSRS gives it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from aiokafka import AIOKafkaProducer


@dataclass(frozen=True)
class PaymentOrder:
    payment_id: uuid.UUID
    amount: Decimal
    currency: str
    # One key per attempt: a resubmission of the same attempt (after a crash) must not pay twice.
    idempotency_key: str
    # Whom to pay: a provider resolves the household to its account (G2P Connect: the payee's financial address).
    household_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Receipt:
    reference: str


class PaymentProvider(Protocol):
    """Accepts orders now and settles them later, reporting each settlement on the settlement topic."""

    async def submit(self, order: PaymentOrder) -> Receipt:
        """Idempotent by `order.idempotency_key`: the same key returns the same receipt."""
        ...


@runtime_checkable
class ReportsSettlements(Protocol):
    """A provider that DSRS runs itself (the simulator) and that so reports its own settlements: the worker
    asks it every so often. A real provider reports on the settlement topic through its own integration."""

    async def report_due(self, producer: AIOKafkaProducer, topic: str) -> int:
        """Publish the settlements that are due; how many were published."""
        ...
