"""The `dci-notify` agent's handler: the registry's household events, matched against the active
subscriptions, become owed notify callbacks.

At least once, each once: the event ids are claimed in `processed_events` in the same transaction that
owes the callbacks, and each callback's message id is derived from its subscription and event, so a
redelivered event owes nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.dci.delivery import enqueue, message_id_for
from dsrs.dci.envelope import Party
from dsrs.dci.messages import DCI_VERSION
from dsrs.dci.query import matches
from dsrs.dci.records import FACT_FIELDS, RECORD_TYPE, facts_of, group_record
from dsrs.dci.search import households_by_id
from dsrs.dci.subscriptions import EVENT_KINDS, Subscription, active_subscriptions
from dsrs.events import topics
from dsrs.events.envelope import Envelope, decode_envelope_of
from dsrs.events.incoming import Incoming
from dsrs.streams.processing import Decoded, claimed, event_id_of

CONSUMER = "dci-notify"
TOPICS = tuple(EVENT_KINDS)
REGISTRY_TYPE = "ns:dsrs:RegistryType:Social"


def _as_of_event(row: Mapping[str, Any], event: Envelope) -> dict[str, Any]:
    """The household as the event left it: the event's facts and version over the registry's row."""
    changed = {name: event.data[name] for name in (*FACT_FIELDS, "version") if name in event.data}
    status = {"status": "inactive"} if event.type == topics.HOUSEHOLD_DEACTIVATED else {}
    return {**row, **changed, **status}


def notification(
    party: Party, subscription: Subscription, event: Envelope, household: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The notify callback's header and message (NotifyEventRequest) for one subscription and event."""
    header = party.header("notify", subscription.subscriber_id, (1, 1))
    data = {
        "version": DCI_VERSION,
        "reg_type": REGISTRY_TYPE,
        "reg_event_type": EVENT_KINDS[event.type],
        "reg_record_type": RECORD_TYPE,
        "reg_records": group_record(household, subscription.personal_data),
        "subscription_code": str(subscription.code),
        "event_id": event.event_id,
    }
    event_item = {"reference_id": subscription.reference_id, "timestamp": event.time.isoformat(), "data": data}
    return header, {"transaction_id": subscription.transaction_id, "notify_event": [event_item]}


class NotifyHandler:
    consumer = CONSUMER

    def __init__(self, engine: AsyncEngine, party: Party) -> None:
        self.engine = engine
        self.party = party

    def decode(self, message: Incoming) -> Envelope:
        return decode_envelope_of(message.value, *TOPICS)

    async def handle(self, batch: Sequence[Decoded[Envelope]]) -> None:
        # Without a subscriber nothing is owed, so the events need no claims: the registry's every change
        # passes here, and most deployments subscribe no one.
        async with self.engine.connect() as connection:
            subscriptions = await active_subscriptions(connection)
        if not subscriptions:
            return
        async with claimed(self.engine, CONSUMER, (decoded.item for decoded in batch), event_id_of) as (
            connection,
            events,
        ):
            if not events:
                return
            rows = await households_by_id(connection, (event.subject for event in events))
            for event in events:
                row = rows.get(event.subject)
                if row is None:
                    continue
                household = _as_of_event(row, event)
                facts = facts_of(household)
                kind = EVENT_KINDS[event.type]
                for subscription in subscriptions:
                    if kind not in subscription.event_kinds or not matches(subscription.condition, facts):
                        continue
                    header, message = notification(self.party, subscription, event, household)
                    message_id = message_id_for(str(subscription.code), event.event_id)
                    await enqueue(
                        connection,
                        message_id,
                        subscription.notify_url,
                        header,
                        message,
                        subscription_code=subscription.code,
                        event_id=event.event_id,
                    )
