"""Subscriptions to the registry's household events, kept in PostgreSQL, and the notifications they are
owed: one per subscription and event, with a message id derived from both."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import dci_subscriptions, dci_transactions
from dsrs.dci.errors import FILTER_INVALID, NOTIFY_TYPES_INVALID, REQUEST_BAD, DciError, QueryError
from dsrs.dci.messages import SubscribeRequest
from dsrs.dci.query import Condition, from_document, parse_query, to_document
from dsrs.dci.records import RECORD_TYPE
from dsrs.dci.search import unique_references
from dsrs.events import topics

# The registry's events, by the names a subscription gives them (reg_event_type).
EVENT_KINDS: Mapping[str, str] = {
    topics.HOUSEHOLD_REGISTERED: "REGISTER",
    topics.HOUSEHOLD_UPDATED: "UPDATE",
    topics.HOUSEHOLD_DEACTIVATED: "DEACTIVATE",
    topics.HOUSEHOLD_REACTIVATED: "REACTIVATE",
}
RECORD_TYPES = (RECORD_TYPE, "Group")


@dataclass(frozen=True)
class PlannedSubscription:
    reference_id: str
    timestamp: str
    event_kind: str
    condition: Condition
    criteria: dict[str, Any]  # as the subscriber gave it, for the answers that describe the subscription


@dataclass(frozen=True)
class Subscription:
    code: uuid.UUID
    reference_id: str
    transaction_id: str
    subscriber_id: str
    notify_url: str
    event_kinds: frozenset[str]
    condition: Condition
    personal_data: bool


def event_kind(value: str) -> str:
    """REGISTER, UPDATE, DEACTIVATE or REACTIVATE; a namespaced name such as ns:RegistryEventType:UPDATE too."""
    kind = value.rpartition(":")[2].upper()
    if kind not in EVENT_KINDS.values():
        raise QueryError(NOTIFY_TYPES_INVALID, f"reg_event_type must be one of {', '.join(EVENT_KINDS.values())}")
    return kind


def plan_subscriptions(request: SubscribeRequest) -> list[PlannedSubscription]:
    """Every subscription asked for, or the message refused: filters never read personal data."""
    unique_references(item.reference_id for item in request.subscribe_request)
    planned = []
    for index, item in enumerate(request.subscribe_request):
        criteria = item.subscribe_criteria
        try:
            kind = event_kind(criteria.reg_event_type)
            if criteria.notify_record_type not in RECORD_TYPES:
                raise QueryError(NOTIFY_TYPES_INVALID, f"notify_record_type must be {RECORD_TYPE}")
            condition = parse_query(criteria.filter_type, criteria.filter, FILTER_INVALID, personal=False)
        except QueryError as error:
            raise DciError(REQUEST_BAD, f"subscribe_request.{index}: {error}") from None
        shown = criteria.model_dump(mode="json", exclude_none=True, exclude={"authorize"})
        planned.append(PlannedSubscription(item.reference_id, item.timestamp.isoformat(), kind, condition, shown))
    return planned


async def add_subscriptions(
    connection: AsyncConnection,
    transaction: uuid.UUID,
    planned: Sequence[PlannedSubscription],
    actor: str,
    notify_url: str,
    personal_data: bool,
) -> list[dict[str, Any]]:
    """Store them; the outcome kept with the transaction: each reference's subscription code."""
    items = []
    for plan in planned:
        code = uuid.uuid4()
        await connection.execute(
            insert(dci_subscriptions).values(
                code=code,
                transaction_pk=transaction,
                reference_id=plan.reference_id,
                actor=actor,
                notify_url=notify_url,
                event_types=[plan.event_kind],
                filter=to_document(plan.condition),
                personal_data=personal_data,
            )
        )
        item = {"reference_id": plan.reference_id, "timestamp": plan.timestamp, "code": str(code)}
        items.append({**item, "criteria": plan.criteria})
    return items


async def end_subscriptions(connection: AsyncConnection, codes: Sequence[str], actor: str) -> list[dict[str, str]]:
    """Unsubscribe the actor's own subscriptions; an unknown code, or another's, refuses them all."""
    try:
        wanted = [uuid.UUID(code) for code in codes]
    except ValueError:
        raise DciError(REQUEST_BAD, "rjct.subscription_code.invalid: a subscription code is not one of yours") from None
    rows = await connection.execute(
        select(dci_subscriptions.c.code, dci_subscriptions.c.status)
        .where(dci_subscriptions.c.code.in_(wanted), dci_subscriptions.c.actor == actor)
        .with_for_update()
    )
    found = {row.code: row.status for row in rows}
    if set(wanted) - set(found):
        raise DciError(REQUEST_BAD, "rjct.subscription_code.invalid: a subscription code is not one of yours")
    await connection.execute(
        update(dci_subscriptions)
        .where(dci_subscriptions.c.code.in_(wanted), dci_subscriptions.c.status == "subscribe")
        .values(status="unsubscribe", ended_at=func.now())
    )
    return [{"code": str(code), "status": "unsubscribe"} for code in dict.fromkeys(wanted)]


async def active_subscriptions(connection: AsyncConnection) -> list[Subscription]:
    query = (
        select(dci_subscriptions, dci_transactions.c.transaction_id, dci_transactions.c.sender_id)
        .join(dci_transactions, dci_transactions.c.id == dci_subscriptions.c.transaction_pk)
        .where(dci_subscriptions.c.status == "subscribe")
        .order_by(dci_subscriptions.c.created_at, dci_subscriptions.c.code)
    )
    return [
        Subscription(
            code=row.code,
            reference_id=row.reference_id,
            transaction_id=row.transaction_id,
            subscriber_id=row.sender_id,
            notify_url=row.notify_url,
            event_kinds=frozenset(row.event_types),
            condition=from_document(row.filter),
            personal_data=row.personal_data,
        )
        for row in await connection.execute(query)
    ]


def subscribe_response(transaction_id: str, correlation_id: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
    """The standard's SubscribeResponse: each reference's subscription (its code, and what it asked for)."""
    items = []
    for item in outcome["items"]:
        info = {"code": item["code"], "subscription_code": item["code"], "status": "subscribe"}
        info |= {"timestamp": item["timestamp"], "subscribe_criteria": item.get("criteria", {})}
        items.append(
            {
                "reference_id": item["reference_id"],
                "timestamp": item["timestamp"],
                "status": "succ",
                "subscriptions": [info],
            }
        )
    return {"transaction_id": transaction_id, "correlation_id": correlation_id, "subscribe_response": items}


def unsubscribe_response(transaction_id: str, correlation_id: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "correlation_id": correlation_id,
        "timestamp": outcome["timestamp"],
        "status": "succ",
        "subscription_status": outcome["subscription_status"],
    }
