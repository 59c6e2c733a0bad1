"""Callbacks owed (notify, on-search, on-subscribe, on-unsubscribe, txn-on-status), delivered at least once.

Each is a row of `dci_deliveries`, written in the transaction that made it owed. A sender leases due rows
(FOR UPDATE SKIP LOCKED, so workers share them), posts each signed, and records the outcome: delivered on a
2xx, else tried again after a delay that doubles, until DSRS_DCI_MAX_ATTEMPTS. A worker that dies mid-send
leaves its lease to run out, and the callback is sent again: with the same `message_id` in its header and
the same `Idempotency-Key` HTTP header, so that the receiver can drop the repeat.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import aiohttp
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.schema import dci_deliveries
from dsrs.dci.callbacks import check_callback_url
from dsrs.dci.envelope import Party
from dsrs.dci.errors import DciError
from dsrs.settings import Settings

log = logging.getLogger(__name__)

# Message ids DSRS derives (uuid5) from what a callback is about, so that the same callback has the same id.
MESSAGE_NAMESPACE = uuid.UUID("6f0b3c1e-2d4a-5b8c-9e7f-1a2b3c4d5e6f")
BATCH = 10
IDEMPOTENCY_HEADER = "Idempotency-Key"


def message_id_for(*parts: str) -> uuid.UUID:
    """A stable message id: the same parts (say a subscription and an event) always give the same id."""
    return uuid.uuid5(MESSAGE_NAMESPACE, "|".join(parts))


async def enqueue(
    connection: AsyncConnection,
    message_id: uuid.UUID,
    url: str,
    header: dict[str, Any],
    message: dict[str, Any],
    *,
    subscription_code: uuid.UUID | None = None,
    event_id: str | None = None,
) -> None:
    """Owe a callback, once per message id, in the caller's transaction."""
    await connection.execute(
        insert(dci_deliveries)
        .values(
            message_id=message_id,
            action=header["action"],
            url=url,
            payload={"header": {**header, "message_id": str(message_id)}, "message": message},
            subscription_code=subscription_code,
            event_id=uuid.UUID(event_id) if event_id else None,
        )
        .on_conflict_do_nothing(index_elements=["message_id"])
    )


class CallbackSender:
    """One worker's sender of owed callbacks; `step` sends the due ones and says how many it tried."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.party = Party.from_settings(settings)
        self.timeout = settings.dci_callback_timeout_seconds
        self.base_seconds = settings.dci_retry_base_seconds
        self.max_seconds = settings.dci_retry_max_seconds
        self.max_attempts = settings.dci_max_attempts
        self.may_be_private = settings.dci_callbacks_may_be_private

    async def _lease(self) -> list[Any]:
        due = (
            select(dci_deliveries.c.id)
            .where(dci_deliveries.c.state == "pending", dci_deliveries.c.next_attempt_at <= func.now())
            .order_by(dci_deliveries.c.next_attempt_at, dci_deliveries.c.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        lease = text(f"now() + interval '{int(self.timeout) + 30} seconds'")
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                update(dci_deliveries)
                .where(dci_deliveries.c.id.in_(due.scalar_subquery()))
                .values(attempts=dci_deliveries.c.attempts + 1, next_attempt_at=lease)
                .returning(
                    dci_deliveries.c.id,
                    dci_deliveries.c.message_id,
                    dci_deliveries.c.url,
                    dci_deliveries.c.payload,
                    dci_deliveries.c.attempts,
                )
            )
            return sorted(rows.all(), key=lambda row: row.id)

    async def step(self) -> int:
        leased = await self._lease()
        if not leased:
            return 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            for row in leased:
                problem = await self._send(session, row)
                await self._record(row, problem)
        return len(leased)

    async def _send(self, session: aiohttp.ClientSession, row: Any) -> str | None:
        """None once the receiver took it; else what went wrong, without any of the payload."""
        try:
            await check_callback_url(row.url, self.may_be_private)
        except DciError as refused:
            return refused.message
        body = self.party.signed(row.payload["header"], row.payload["message"])
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: str(row.message_id)}
        try:
            async with session.post(
                row.url, data=json.dumps(body, default=str).encode(), headers=headers, allow_redirects=False
            ) as response:
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return type(error).__name__

    def delay(self, attempts: int) -> float:
        return float(min(self.max_seconds, self.base_seconds * 2 ** (attempts - 1)))

    async def _record(self, row: Any, problem: str | None) -> None:
        values: dict[str, Any]
        if problem is None:
            values = {"state": "delivered", "payload": None, "finished_at": func.now(), "last_error": None}
        elif row.attempts >= self.max_attempts:
            log.warning("dci callback %s: given up after %d attempts (%s)", row.message_id, row.attempts, problem)
            values = {"state": "failed", "payload": None, "finished_at": func.now(), "last_error": problem}
        else:
            retry = text(f"now() + interval '{self.delay(row.attempts):.3f} seconds'")
            values = {"next_attempt_at": retry, "last_error": problem}
        async with self.engine.begin() as connection:
            await connection.execute(update(dci_deliveries).where(dci_deliveries.c.id == row.id).values(**values))
