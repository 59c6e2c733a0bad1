"""What each saga event adds to the KPIs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from dsrs.analytics.windows import windows_of
from dsrs.events import topics
from dsrs.events.envelope import Envelope, InvalidEvent

METRICS = (
    "assessed",
    "approved",
    "denied",
    "payments_scheduled",
    "payments_completed",
    "payments_failed",
    "payments_cancelled",
)

# Event type -> (metric, whether the event's amount adds to the metric's amount).
_COUNTS: dict[str, tuple[tuple[str, bool], ...]] = {
    topics.ASSESSED_APPROVED: (("assessed", False), ("approved", False)),
    topics.ASSESSED_DENIED: (("assessed", False), ("denied", False)),
    topics.PAYMENT_SCHEDULED: (("payments_scheduled", True),),
    topics.PAYMENT_COMPLETED: (("payments_completed", True),),
    topics.PAYMENT_FAILED: (("payments_failed", False),),
    topics.PAYMENT_CANCELLED: (("payments_cancelled", False),),
    # No new payment: the scheduled amount changes by the difference (fact_of).
    topics.PAYMENT_AMENDED: (("payments_scheduled", True),),
}
COUNTED_EVENT_TYPES = tuple(_COUNTS)


@dataclass(slots=True)
class Increment:
    metric: str
    amount: Decimal
    count: int = 1


@dataclass
class Fact:
    event_id: str
    program_id: str
    region: str
    time: datetime
    increments: tuple[Increment, ...]

    @functools.cached_property
    def windows(self) -> tuple[tuple[str, datetime], ...]:
        # Worked out once per fact: every increment and the snapshot after it count in these.
        return windows_of(self.time)

    @property
    def partition_key(self) -> str:
        return partition_key(self.program_id, self.region)


def partition_key(program_id: str, region: str) -> str:
    return f"{program_id}|{region}"


def fact_of(envelope: Envelope) -> Fact:
    counts = _COUNTS.get(envelope.type)
    if counts is None:
        raise InvalidEvent(f"envelope.type: analytics does not count {envelope.type!r}")
    data = envelope.data
    program_id, region = data.get("program_id"), data.get("region")
    if not isinstance(program_id, str) or not isinstance(region, str):
        raise InvalidEvent("data: program_id and region are required")
    try:
        amount = Decimal(str(data.get("amount") or "0"))
    except InvalidOperation:
        raise InvalidEvent("data.amount: not a number") from None
    if envelope.type == topics.PAYMENT_FAILED and not data.get("final", True):
        # A failed attempt that will be retried is not a failed payment (yet).
        counts = ()
    if envelope.type == topics.PAYMENT_AMENDED:
        try:
            change = amount - Decimal(str(data.get("previous_amount") or "0"))
        except InvalidOperation:
            raise InvalidEvent("data.previous_amount: not a number") from None
        return Fact(envelope.event_id, program_id, region, envelope.time, (Increment("payments_scheduled", change, 0),))
    increments = tuple(Increment(metric, amount if with_amount else Decimal(0)) for metric, with_amount in counts)
    return Fact(envelope.event_id, program_id, region, envelope.time, increments)
