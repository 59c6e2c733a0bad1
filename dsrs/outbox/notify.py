"""Wakes the relay when events are committed: PostgreSQL NOTIFY from a trigger on the outbox.

A lost connection only costs latency: the relay polls as a fallback, and the listener reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from dsrs.waiting import first_of, wait_at_most

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "dsrs_outbox"


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxListener:
    def __init__(
        self,
        database_url: str,
        on_notify: Callable[[], None],
        reconnect_seconds: float = 5.0,
        connect_args: dict[str, Any] | None = None,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        # The engine's own (dsrs.db.engine.connect_args): TLS, or the Unix socket.
        self.connect_args = connect_args or {}
        self.on_notify = on_notify
        self.reconnect_seconds = reconnect_seconds

    def _callback(self, connection: object, pid: int, channel: str, payload: object) -> None:
        self.on_notify()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            lost = asyncio.Event()
            on_lost = _setter(lost)
            try:
                connection = await asyncpg.connect(self.dsn, **self.connect_args)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("outbox listener: cannot connect (%s); polling meanwhile", type(error).__name__)
                await first_of(stopping.wait(), lost.wait(), seconds=self.reconnect_seconds)
                continue
            try:
                connection.add_termination_listener(on_lost)
                await connection.add_listener(OUTBOX_CHANNEL, self._callback)
                await first_of(stopping.wait(), lost.wait())
            finally:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=2)
            if lost.is_set() and not stopping.is_set():
                await wait_at_most(stopping, self.reconnect_seconds)


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _connection: event.set()
