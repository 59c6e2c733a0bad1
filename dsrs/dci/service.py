"""The DCI operations: each reads its message, refuses it whole (nothing stored) or answers it, writing the
transaction, its audit entry and any callback it owes in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.audit.trail import AuditEntry, record
from dsrs.auth.roles import READS_PERSONAL_DATA
from dsrs.auth.tokens import Principal
from dsrs.db.schema import dci_subscriptions, dci_transactions
from dsrs.dci.callbacks import check_callback_url
from dsrs.dci.delivery import enqueue, message_id_for
from dsrs.dci.envelope import Party, ack, check_count
from dsrs.dci.errors import REQUEST_NOT_FOUND, SENDER_URI_INVALID, DciError
from dsrs.dci.messages import (
    Envelope,
    SearchRequest,
    SubscribeRequest,
    TxnStatusItem,
    TxnStatusRequest,
    UnsubscribeRequest,
    parsed,
)
from dsrs.dci.search import households_by_id, plan_search, run, search_response
from dsrs.dci.subscriptions import (
    add_subscriptions,
    end_subscriptions,
    plan_subscriptions,
    subscribe_response,
    unsubscribe_response,
)
from dsrs.settings import Settings


@dataclass(frozen=True)
class Caller:
    """Who asks: their principal (for the audit trail and their own transactions) and what they may read."""

    principal: Principal

    @property
    def actor(self) -> str:
        return self.principal.subject

    @property
    def personal(self) -> bool:
        return bool(self.principal.roles & READS_PERSONAL_DATA)


class DciService:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.party = Party.from_settings(settings)
        self.may_be_private = settings.dci_callbacks_may_be_private

    async def _callback_url(self, envelope: Envelope, required: bool) -> str | None:
        url = envelope.header.sender_uri
        if url is None:
            if required:
                raise DciError(SENDER_URI_INVALID, "header.sender_uri is required: the answer is a callback")
            return None
        await check_callback_url(url, self.may_be_private)
        return url

    async def _owe(
        self,
        connection: AsyncConnection,
        action: str,
        correlation: str,
        url: str,
        envelope: Envelope,
        message: dict[str, Any],
        counts: tuple[int, int],
    ) -> None:
        """A callback answering the request, owed in this transaction: its message id follows from both."""
        header = self.party.header(action, envelope.header.sender_id, counts)
        await enqueue(connection, message_id_for(action, correlation), url, header, message)

    async def _insert(
        self,
        connection: AsyncConnection,
        caller: Caller,
        kind: str,
        envelope: Envelope,
        transaction_id: str,
        references: list[str],
    ) -> uuid.UUID:
        """The transaction's row, its outcome to come (`_finish`): the answer's correlation_id is its id."""
        correlation = uuid.uuid4()
        await connection.execute(
            insert(dci_transactions).values(
                id=correlation,
                kind=kind,
                transaction_id=transaction_id,
                message_id=envelope.header.message_id,
                sender_id=envelope.header.sender_id,
                actor=caller.actor,
                reference_ids=references,
                outcome={},
            )
        )
        return correlation

    async def _finish(
        self, connection: AsyncConnection, correlation: uuid.UUID, caller: Caller, kind: str, outcome: dict[str, Any]
    ) -> None:
        """The transaction's outcome (statuses and ids, no personal data), and its entry in the audit trail."""
        await connection.execute(
            update(dci_transactions).where(dci_transactions.c.id == correlation).values(outcome=outcome)
        )
        entry = AuditEntry(f"dci.{kind}", "dci_transaction", str(correlation), None, outcome)
        await record(connection, caller.principal, entry)

    # --- search -----------------------------------------------------------------------------------------

    async def search(self, body: dict[str, Any], caller: Caller, synchronous: bool) -> dict[str, Any]:
        envelope = self.party.read(body, "search")
        request = parsed(SearchRequest, envelope.message, "message")
        check_count(envelope, len(request.search_request))
        plans = plan_search(request, caller.personal)
        url = None if synchronous else await self._callback_url(envelope, required=True)
        references = [plan.reference_id for plan in plans]
        async with self.engine.begin() as connection:
            outcomes = [await run(connection, plan) for plan in plans]
            rows = await households_by_id(connection, (i for outcome in outcomes for i in outcome["household_ids"]))
            correlation = await self._insert(connection, caller, "search", envelope, request.transaction_id, references)
            await self._finish(connection, correlation, caller, "search", {"items": outcomes})
            message = search_response(request.transaction_id, str(correlation), outcomes, rows, caller.personal)
            counts = (len(plans), len(plans))
            if url is None:
                return self.party.answer("on-search", message, envelope.header.sender_id, counts)
            await self._owe(connection, "on-search", str(correlation), url, envelope, message, counts)
        return ack(str(correlation))

    # --- subscriptions ----------------------------------------------------------------------------------

    async def subscribe(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        envelope = self.party.read(body, "subscribe")
        request = parsed(SubscribeRequest, envelope.message, "message")
        check_count(envelope, len(request.subscribe_request))
        planned = plan_subscriptions(request)
        url = await self._callback_url(envelope, required=True)
        assert url is not None
        references = [plan.reference_id for plan in planned]
        async with self.engine.begin() as connection:
            # The transaction first: the subscriptions point at it.
            correlation = await self._insert(
                connection, caller, "subscribe", envelope, request.transaction_id, references
            )
            items = await add_subscriptions(connection, correlation, planned, caller.actor, url, caller.personal)
            outcome = {"items": items}
            await self._finish(connection, correlation, caller, "subscribe", outcome)
            message = subscribe_response(request.transaction_id, str(correlation), outcome)
            counts = (len(items), len(items))
            await self._owe(connection, "on-subscribe", str(correlation), url, envelope, message, counts)
        return ack(str(correlation))

    async def unsubscribe(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        envelope = self.party.read(body, "unsubscribe")
        request = parsed(UnsubscribeRequest, envelope.message, "message")
        check_count(envelope, len(request.subscription_codes))
        url = await self._callback_url(envelope, required=False)
        async with self.engine.begin() as connection:
            statuses = await end_subscriptions(connection, request.subscription_codes, caller.actor)
            timestamp = (request.timestamp or envelope.header.message_ts).isoformat()
            outcome = {"timestamp": timestamp, "subscription_status": statuses}
            codes = [status["code"] for status in statuses]
            correlation = await self._insert(connection, caller, "unsubscribe", envelope, request.transaction_id, codes)
            await self._finish(connection, correlation, caller, "unsubscribe", outcome)
            if url is not None:
                message = unsubscribe_response(request.transaction_id, str(correlation), outcome)
                counts = (len(codes), len(codes))
                await self._owe(connection, "on-unsubscribe", str(correlation), url, envelope, message, counts)
        return ack(str(correlation))

    # --- transaction status -----------------------------------------------------------------------------

    async def status(self, body: dict[str, Any], caller: Caller, synchronous: bool) -> dict[str, Any]:
        envelope = self.party.read(body, "txn-status")
        request = parsed(TxnStatusRequest, envelope.message, "message")
        check_count(envelope, 1)
        url = None if synchronous else await self._callback_url(envelope, required=True)
        item = request.txnstatus_request
        async with self.engine.begin() as connection:
            found = await _find(connection, item, caller.actor)
            if found is None:
                raise DciError(REQUEST_NOT_FOUND, "no such transaction of yours", 404)
            answered = await _answer_of(connection, found, item, caller.personal)
            correlation = str(uuid.uuid4())
            status = {"txn_type": item.txn_type, "txn_status": answered}
            message: dict[str, Any] = {"transaction_id": request.transaction_id, "correlation_id": correlation}
            message["txnstatus_response"] = status
            if url is None:
                return self.party.answer("txn-on-status", message, envelope.header.sender_id, (1, 1))
            await self._owe(connection, "txn-on-status", correlation, url, envelope, message, (1, 1))
        return ack(correlation)


def _values(item: TxnStatusItem) -> list[str]:
    value = item.attribute_value
    return value if isinstance(value, list) else [value]


async def _find(connection: AsyncConnection, item: TxnStatusItem, actor: str) -> Mapping[str, Any] | None:
    """The caller's newest transaction of the asked type that the attribute names."""
    values = _values(item)
    query = select(dci_transactions).where(dci_transactions.c.kind == item.txn_type, dci_transactions.c.actor == actor)
    if item.attribute_type == "transaction_id":
        query = query.where(dci_transactions.c.transaction_id.in_(values))
    elif item.attribute_type == "reference_id_list":
        query = query.where(dci_transactions.c.reference_ids.overlap(values))
    else:
        try:
            ids = [uuid.UUID(value) for value in values]
        except ValueError:
            return None
        if item.attribute_type == "correlation_id":
            query = query.where(dci_transactions.c.id.in_(ids))
        else:
            owning = select(dci_subscriptions.c.transaction_pk).where(dci_subscriptions.c.code.in_(ids))
            query = query.where(dci_transactions.c.id.in_(owning.scalar_subquery()))
    row = (await connection.execute(query.order_by(dci_transactions.c.created_at.desc()).limit(1))).first()
    return None if row is None else dict(row._mapping)


async def _answer_of(
    connection: AsyncConnection, found: Mapping[str, Any], item: TxnStatusItem, personal: bool
) -> dict[str, Any]:
    """The transaction's answer as it would be given now: a search's records are read again, for this caller."""
    transaction_id, correlation, outcome = found["transaction_id"], str(found["id"]), found["outcome"]
    if found["kind"] == "subscribe":
        return subscribe_response(transaction_id, correlation, outcome)
    if found["kind"] == "unsubscribe":
        return unsubscribe_response(transaction_id, correlation, outcome)
    items = outcome["items"]
    if item.attribute_type == "reference_id_list":
        items = [outcome_item for outcome_item in items if outcome_item["reference_id"] in _values(item)]
    rows = await households_by_id(connection, (i for outcome_item in items for i in outcome_item["household_ids"]))
    return search_response(transaction_id, correlation, items, rows, personal)
