"""Waiting on the event loop: for whichever comes first, something happening or a time limit; and how long
to wait before trying again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass


@dataclass
class Backoff:
    """A delay that doubles with each attempt, from `first_seconds` up to `max_seconds`."""

    first_seconds: float = 0.2
    max_seconds: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_seconds, self.first_seconds * 2 ** (attempt - 1)))


async def wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` have passed, whichever is first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


async def first_of(*waits: Awaitable[object], seconds: float | None = None) -> None:
    """Until the first of `waits` is done, or `seconds` have passed (None: no limit); the rest are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
